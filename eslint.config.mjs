import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'drizzle/**', 'data/**', 'bench/results/**', 'examples/public/**',
      // Written by scripts/embed-migrations.mjs from drizzle/, and compared with it byte for byte.
      'src/db/*/migrations.ts']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run on its own.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // From typescript-eslint's recommended set: where the code needs them, a disable comment says why.
      '@typescript-eslint/no-unsafe-function-type': 'error',
      '@typescript-eslint/no-empty-object-type': 'error'
    }
  }
]
