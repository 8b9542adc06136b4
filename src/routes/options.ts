import { type Column, getTableColumns, type Table } from 'drizzle-orm'
import { ConfigurationError } from '../errors.ts'
import { custom, group, option, type OptionsInput, type OptionsResolved } from '../lib/option-schema.ts'
import { BASE_USER_FIELDS } from '../service/user.ts'
import { requiredUserColumns } from '../service/user-fields.ts'
import { credentialsBody, meResponse, registeredResponse } from './schemas.ts'
import { routesAjv } from './validator.ts'

/** A JSON schema for one property (what `routes.registerFields` maps each column to). */
export type JsonSchema = Readonly<Record<string, unknown>>

const isPath = (value: unknown) => typeof value === 'string' && (value === '' || value.startsWith('/'))
const anything = () => true

/** The bundled routes' options, declared once. */
export const ROUTES_OPTIONS = group('mount the bundled routes: `true`, or their options', {
  prefix: custom<string>(isPath, { doc: 'where the bundled routes are mounted', must: "a path starting with '/', e.g. '/auth'", default: '', defaultText: 'none' }),
  bodyLimit: option.integerBetween(1024, Number.MAX_SAFE_INTEGER, 16 * 1024, 'largest accepted request body, bytes', 'an integer of at least 1024 bytes'),
  tags: custom<readonly string[]>((value) => Array.isArray(value) && value.every((tag) => typeof tag === 'string' && tag !== ''), {
    doc: 'OpenAPI tags of the bundled routes', must: "an array of non-empty strings, e.g. ['auth']", default: ['auth']
  }),
  registerFields: custom<Readonly<Record<string, JsonSchema>>>(anything, {
    doc: "extra `/register` body properties, each a column of your `usersTable` with its JSON schema, e.g. `{ nickname: { type: 'string', maxLength: 40 } }`",
    must: 'an object of column: JSON schema',
    defaultText: 'none'
  }),
  registerRequired: custom<readonly string[]>(anything, {
    doc: '`registerFields` a request must send (every NOT NULL column without a default is required anyway)', must: 'an array of registerFields names', defaultText: 'none'
  }),
  meFields: custom<readonly string[]>(anything, {
    doc: "columns of your `usersTable` that `/me` returns besides its own, e.g. `['nickname']`", must: 'an array of column names', defaultText: 'none'
  })
}, { offUnlessGiven: true })

export type RoutesOptions = Exclude<NonNullable<OptionsInput<{ routes: typeof ROUTES_OPTIONS }>['routes']>, boolean>

/** A column `/me` returns: its property name, its JSON key, and the schema that serializes it. */
export interface MeField {
  name: string
  key: string
  schema: JsonSchema
}

/** A column `/register` takes: its property name, its JSON key, its schema, and whether a request must send it. */
export interface RegisterField extends MeField {
  required: boolean
}

export interface ResolvedRoutes {
  prefix: string
  bodyLimit: number
  tags: readonly string[]
  registerFields: readonly RegisterField[]
  meFields: readonly MeField[]
}

// What /register and /me already carry, or must never take from a request body.
const RESERVED = new Set<string>([...BASE_USER_FIELDS, 'password', 'device_token'])
const ME_OWN = new Set(['id', 'email', 'isVerified', 'isActive', 'lastLogin'])
// The keys /register and /me already use for their own properties, in the body or the answer.
const OWN_KEYS = new Set([credentialsBody, registeredResponse, meResponse].flatMap((schema) => Object.keys(schema.properties)))

/**
 * The JSON key of a column's property: every key the bundled routes read or write is snake_case, so an
 * application's `displayName` travels as `display_name` (`userID` as `user_id`).
 */
function jsonKey (property: string): string {
  return property.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase()
}

/** Works out the routes from their checked options and the users table; every failure says what to set. */
export function resolveRoutes (options: OptionsResolved<{ routes: typeof ROUTES_OPTIONS }>['routes'], usersTable: Table | undefined): ResolvedRoutes | false {
  if (options === false) return false
  const { prefix, bodyLimit, tags } = options
  const columns = usersTable === undefined ? undefined : getTableColumns(usersTable)
  const schemas = resolveRegisterFields(options.registerFields, columns)
  const required = new Set(resolveRegisterRequired(options.registerRequired, schemas, usersTable))
  const registerFields = Object.entries(schemas).map(([name, schema]) => Object.freeze({ name, key: jsonKey(name), schema, required: required.has(name) }))
  const meFields = resolveMeFields(options.meFields, columns)
  checkKeys('registerFields', registerFields)
  checkKeys('meFields', meFields)
  return { prefix, bodyLimit, tags: Object.freeze([...tags]), registerFields: Object.freeze(registerFields), meFields }
}

/** Two columns must not travel under one JSON key, nor a column under a key the routes use for their own. */
function checkKeys (kind: string, fields: readonly MeField[]): void {
  const seen = new Map<string, string>()
  for (const { name, key } of fields) {
    if (OWN_KEYS.has(key)) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.${kind}\`: the column '${name}' would travel as '${key}', ` +
        'which the bundled routes already use: rename the column\'s property')
    }
    const other = seen.get(key)
    if (other !== undefined) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.${kind}\`: the columns '${other}' and '${name}' would both travel as '${key}': rename one`)
    }
    seen.set(key, name)
  }
}

function appColumn (kind: string, name: string, columns: Record<string, Column> | undefined): Column {
  if (columns === undefined) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`routes.${kind}\` needs \`usersTable\`: your own users table that has the column '${name}'`)
  }
  const column = columns[name]
  if (column === undefined) {
    const own = Object.keys(columns).filter((key) => !RESERVED.has(key))
    throw new ConfigurationError(`fastify-drizzle-auth: \`routes.${kind}\`: '${name}' is not a column of the users table ` +
      `(its own columns: ${own.length === 0 ? 'none' : own.join(', ')})`)
  }
  return column
}

function resolveRegisterFields (fields: unknown, columns: Record<string, Column> | undefined): Readonly<Record<string, JsonSchema>> {
  if (fields === undefined) return {}
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    throw new ConfigurationError("fastify-drizzle-auth: `routes.registerFields` must be an object of column: JSON schema, e.g. { nickname: { type: 'string', maxLength: 40 } }")
  }
  const resolved: Record<string, JsonSchema> = {}
  for (const [name, schema] of Object.entries(fields)) {
    if (RESERVED.has(name)) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.registerFields\`: '${name}' is set by the plugin, not by a request`)
    }
    appColumn('registerFields', name, columns)
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.registerFields.${name}\` must be a JSON schema object, e.g. { type: 'string', maxLength: 40 }`)
    }
    try {
      routesAjv.compile(schema)
    } catch (err) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.registerFields.${name}\` is not a valid JSON schema: ${(err as Error).message}`)
    }
    resolved[name] = Object.freeze({ ...schema })
  }
  return Object.freeze(resolved)
}

function resolveRegisterRequired (listed: unknown, fields: Readonly<Record<string, JsonSchema>>, usersTable: Table | undefined): readonly string[] {
  if (listed !== undefined && (!Array.isArray(listed) || !listed.every((name) => typeof name === 'string'))) {
    throw new ConfigurationError("fastify-drizzle-auth: `routes.registerRequired` must be an array of registerFields names, e.g. ['nickname']")
  }
  const needed = usersTable === undefined ? [] : requiredUserColumns(usersTable)
  for (const name of needed) {
    if (fields[name] === undefined) {
      throw new ConfigurationError(`fastify-drizzle-auth: the users table's column '${name}' is NOT NULL without a default, so /register ` +
        `must take it: add it to \`routes.registerFields\` (e.g. ${name}: { type: 'string' }), or give the column a default`)
    }
  }
  for (const name of listed ?? []) {
    if (fields[name] === undefined) throw new ConfigurationError(`fastify-drizzle-auth: \`routes.registerRequired\`: '${name}' is not among \`routes.registerFields\``)
  }
  return Object.freeze([...new Set([...needed, ...(listed ?? [])])])
}

function resolveMeFields (fields: unknown, columns: Record<string, Column> | undefined): readonly MeField[] {
  if (fields === undefined) return []
  if (!Array.isArray(fields) || !fields.every((field) => typeof field === 'string' && field !== '')) {
    throw new ConfigurationError("fastify-drizzle-auth: `routes.meFields` must be an array of column names, e.g. ['nickname']")
  }
  return Object.freeze(fields.map((name: string) => {
    if (RESERVED.has(name) || ME_OWN.has(name)) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`routes.meFields\`: '${name}' is ${ME_OWN.has(name) ? 'already in /me' : 'never returned'}`)
    }
    return Object.freeze({ name, key: jsonKey(name), schema: columnSchema(appColumn('meFields', name, columns)) })
  }))
}

/** How /me serializes a column: by its Drizzle data type, null allowed unless the column is NOT NULL. */
function columnSchema (column: Column): JsonSchema {
  const byType: Record<string, JsonSchema> = {
    string: { type: 'string' },
    number: { type: 'number' },
    boolean: { type: 'boolean' },
    date: { type: 'string', format: 'date-time' },
    bigint: { type: 'string' }
  }
  const schema = byType[column.dataType]
  if (schema === undefined) return {}
  return column.notNull ? schema : { ...schema, type: [schema.type, 'null'] }
}
