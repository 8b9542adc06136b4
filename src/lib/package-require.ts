import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/**
 * `require`, resolving from this package's own files: through import.meta.url when it runs as ESM, through
 * __filename where an application bundled it to CommonJS (esbuild leaves import.meta empty there). The
 * fallback runs only in such a bundle, which test/package.test.ts builds and starts.
 */
/* c8 ignore next */
const here = import.meta.url ?? pathToFileURL(__filename).href
export const packageRequire = createRequire(here)
