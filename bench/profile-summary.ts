/** The self time of a V8 `.cpuprofile`, by function and place, as lines of percentages (largest first). */
export interface CpuProfile {
  nodes: Array<{ callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }>
}

export function topSelfTime (profile: CpuProfile, count: number): string[] {
  const self = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    total += hits
    const { functionName, url: source, lineNumber } = node.callFrame
    const where = source === '' ? '' : ` ${source.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench|examples)\//, '$1/')}:${lineNumber + 1}`
    const key = `${functionName || '(anonymous)'}${where}`
    self.set(key, (self.get(key) ?? 0) + hits)
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, hits]) => `${(hits / total * 100).toFixed(1).padStart(5)} %  ${key}`)
}
