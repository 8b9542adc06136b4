/**
 * Options declared once: each leaf is a TypeBox schema with its default, the phrase its error uses and its
 * one-line doc; groups nest leaves. The public option types, the run-time checks (unknown keys refused at any
 * depth with a did-you-mean), the defaults and the docs table are all read from the declaration.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigurationError } from '../errors.ts'
import { closestKey } from './closest-key.ts'

export interface OptionLeaf<T, R> {
  readonly kind: 'leaf'
  /** Whether a given value is acceptable (TypeBox's check of the leaf's schema, or the leaf's own). */
  readonly check: (value: unknown) => boolean
  /** One line for the docs table. */
  readonly doc: string
  /** What the value must be, for the error: "`name` must be <must>". */
  readonly must: string
  /** The value when the option is left out (`undefined`: none). */
  readonly fallback: R | undefined
  /** How the default reads in the docs (when the value itself does not say it). */
  readonly defaultText: string | undefined
  /** Phantom: the accepted and the resolved type. */
  readonly types?: { input: T, resolved: R } | undefined
}

export interface OptionGroup<P extends OptionShape, F extends boolean, O extends boolean = false> {
  readonly kind: 'group'
  readonly props: P
  readonly doc: string
  /** `false` turns the whole group off. */
  readonly allowFalse: F
  /** Off unless given: left out (or `false`) it is off, `true` is on with every default. */
  readonly offUnlessGiven: O
}

export type OptionNode = OptionLeaf<any, any> | OptionGroup<any, boolean, boolean>
export type OptionShape = Readonly<Record<string, OptionNode>>

/** The options an application writes: every key optional. */
export type OptionsInput<P extends OptionShape> = {
  -readonly [K in keyof P]?: P[K] extends OptionLeaf<infer T, unknown> ? T
    : P[K] extends OptionGroup<infer Q, infer F, infer O> ? OptionsInput<Q> | (F extends true ? false : never) | (O extends true ? boolean : never) : never
}

/** The options once resolved: defaults filled in, groups whole (or false). */
export type OptionsResolved<P extends OptionShape> = {
  -readonly [K in keyof P]: P[K] extends OptionLeaf<unknown, infer R> ? R
    : P[K] extends OptionGroup<infer Q, infer F, boolean> ? OptionsResolved<Q> | (F extends true ? false : never) : never
}

interface LeafSpec<R> {
  doc: string
  must: string
  default?: R
  defaultText?: string
}

/** A leaf accepting `schema`'s values; with a default the resolved value is always set. */
export function leaf<S extends TSchema, R = Static<S>> (schema: S, spec: LeafSpec<R> & { default: R }): OptionLeaf<Static<S>, R>
export function leaf<S extends TSchema> (schema: S, spec: LeafSpec<Static<S>>): OptionLeaf<Static<S>, Static<S> | undefined>
export function leaf<S extends TSchema> (schema: S, spec: LeafSpec<unknown>): OptionLeaf<unknown, unknown> {
  return { kind: 'leaf', check: (value) => Value.Check(schema, value), doc: spec.doc, must: spec.must, fallback: spec.default, defaultText: spec.defaultText }
}

/** A leaf whose type TypeBox cannot express (a function, a table, a store): checked by `check`. */
export function custom<T> (check: (value: unknown) => boolean, spec: LeafSpec<T> & { default: T }): OptionLeaf<T, T>
export function custom<T> (check: (value: unknown) => boolean, spec: LeafSpec<T>): OptionLeaf<T, T | undefined>
export function custom<T> (check: (value: unknown) => boolean, spec: LeafSpec<T>): OptionLeaf<T, T | undefined> {
  return { kind: 'leaf', check, doc: spec.doc, must: spec.must, fallback: spec.default, defaultText: spec.defaultText }
}

export function group<P extends OptionShape> (doc: string, props: P): OptionGroup<P, false>
export function group<P extends OptionShape> (doc: string, props: P, options: { allowFalse: true }): OptionGroup<P, true>
export function group<P extends OptionShape> (doc: string, props: P, options: { offUnlessGiven: true }): OptionGroup<P, true, true>
export function group<P extends OptionShape> (doc: string, props: P, options?: { allowFalse?: true, offUnlessGiven?: true }): OptionGroup<P, boolean, boolean> {
  const offUnlessGiven = options?.offUnlessGiven === true
  return { kind: 'group', props, doc, allowFalse: offUnlessGiven || options?.allowFalse === true, offUnlessGiven }
}

/** The common leaves. */
export const option = {
  positiveInteger: (fallback: number, doc: string, defaultText?: string) =>
    leaf(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), { doc, must: `a positive integer (default ${fallback})`, default: fallback, defaultText }),
  nonNegativeInteger: (fallback: number, doc: string) =>
    leaf(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), { doc, must: `a whole number, 0 or more (default ${fallback})`, default: fallback }),
  integerBetween: (min: number, max: number, fallback: number, doc: string, must = `a whole number from ${min} to ${max} (default ${fallback})`) =>
    leaf(Type.Integer({ minimum: min, maximum: max }), { doc, must, default: fallback }),
  boolean: (fallback: boolean, doc: string) => leaf(Type.Boolean(), { doc, must: 'true or false', default: fallback }),
  string: (doc: string) => leaf(Type.String({ minLength: 1 }), { doc, must: 'a non-empty string when set' }),
  oneOf: <const V extends string> (values: readonly V[], fallback: V, doc: string) =>
    custom<V>((value) => values.includes(value as V), { doc, must: `one of ${values.map((value) => `'${value}'`).join(', ')}`, default: fallback }) as OptionLeaf<V, V>,
  fn: <F extends (...args: never[]) => unknown> (doc: string, fallback?: F, defaultText?: string) =>
    custom<F>((value) => typeof value === 'function', { doc, must: 'a function when set', default: fallback, defaultText }) as OptionLeaf<F, F>
}

/** Refuses a top-level key `shape` does not declare, naming the closest one it does. */
export function checkKnownKeys (value: object, shape: OptionShape): void {
  for (const key of Object.keys(value)) {
    if (shape[key] === undefined) throw unknownKey(key, Object.keys(shape), '')
  }
}

/** Resolves `value` against `shape`: refuses unknown keys and wrong values, naming them; fills in every default. */
export function resolveOptions<P extends OptionShape> (shape: P, value: unknown, path = ''): OptionsResolved<P> {
  const given = (value ?? {}) as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (shape[key] === undefined && given[key] !== undefined) throw unknownKey(key, Object.keys(shape), path)
  }
  const out: Record<string, unknown> = {}
  for (const [key, node] of Object.entries(shape)) out[key] = resolveNode(node, given[key], `${path}${key}`)
  return out as OptionsResolved<P>
}

function resolveNode (node: OptionNode, value: unknown, name: string): unknown {
  if (node.kind === 'group') {
    if (node.offUnlessGiven && (value === undefined || value === false)) return false
    if (value === false && node.allowFalse) return false
    if (value === true && node.offUnlessGiven) return resolveOptions(node.props, {}, `${name}.`)
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      const keys = Object.keys(node.props).join(', ')
      throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be ${node.offUnlessGiven ? 'true, false or' : 'an object'} { ${keys} }${node.allowFalse && !node.offUnlessGiven ? ' or false' : ''}`)
    }
    return resolveOptions(node.props, value, `${name}.`)
  }
  if (value === undefined) return node.fallback
  if (!node.check(value)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be ${node.must}`)
  }
  return value
}

function unknownKey (key: string, known: string[], path: string): ConfigurationError {
  const suggestion = closestKey(key, known)
  return new ConfigurationError(
    `fastify-drizzle-auth: unknown option \`${path}${key}\`${suggestion === undefined ? '' : `: did you mean \`${path}${suggestion}\`?`}` +
    ` (known${path === '' ? '' : ` in \`${path.slice(0, -1)}\``}: ${known.join(', ')})`
  )
}

/** One row of the docs table per option, nested keys dotted. */
export function optionRows (shape: OptionShape, path = ''): Array<{ name: string, defaultText: string, doc: string }> {
  return Object.entries(shape).flatMap(([key, node]) => {
    const name = `${path}${key}`
    if (node.kind === 'group') {
      const head = { name, defaultText: node.offUnlessGiven ? 'off (`true`: on)' : node.allowFalse ? 'on (`false`: off)' : '', doc: node.doc }
      return [head, ...optionRows(node.props, `${name}.`)]
    }
    const fallback = node.defaultText ?? (node.fallback === undefined ? 'unset' : `\`${literal(node.fallback)}\``)
    return [{ name, defaultText: fallback, doc: node.doc }]
  })
}

/** A default as it would be written in TypeScript. */
function literal (value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`
  return JSON.stringify(value)
}
