/** JSON schemas shared by the bundled routes. Every body is closed (additionalProperties: false). */
import { ERROR_SCHEMA_ID } from '../openapi.ts'

export const MAX_EMAIL = 254
export const MAX_PASSWORD = 1024
export const MAX_TOKEN = 512

// No control characters (CR, LF, NUL, ...): a strict `format` would reject padded and fullwidth spellings
// that normalization accepts, so only what can never be part of an address is refused here.
const email = { type: 'string', minLength: 1, maxLength: MAX_EMAIL, pattern: '^[^\\u0000-\\u001F\\u007F]*$' } as const
const password = { type: 'string', minLength: 1, maxLength: MAX_PASSWORD } as const
const token = { type: 'string', minLength: 1, maxLength: MAX_TOKEN } as const

export const credentialsBody = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  properties: { email, password }
} as const

export const loginBody = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  properties: { email, password, device_token: token }
} as const

export const refreshBody = {
  type: 'object',
  required: ['refresh_token'],
  additionalProperties: false,
  properties: { refresh_token: token }
} as const

/** With cookies the refresh token may come in its cookie instead: the body may then be empty. */
export const refreshCookieBody = { type: 'object', additionalProperties: false, properties: refreshBody.properties } as const

export const passwordChangeBody = {
  type: 'object',
  required: ['current_password', 'new_password'],
  additionalProperties: false,
  properties: { current_password: password, new_password: password }
} as const

// Any string: a token of the wrong shape gets the same 400 `invalid_token` as an unknown or used one.
const actionToken = { type: 'string' } as const

export const actionTokenBody = {
  type: 'object',
  required: ['token'],
  additionalProperties: false,
  properties: { token: actionToken }
} as const

export const emailBody = {
  type: 'object',
  required: ['email'],
  additionalProperties: false,
  properties: { email }
} as const

export const passwordResetBody = {
  type: 'object',
  required: ['token', 'new_password'],
  additionalProperties: false,
  properties: { token: actionToken, new_password: password }
} as const

export const emailChangeBody = {
  type: 'object',
  required: ['current_password', 'new_email'],
  additionalProperties: false,
  properties: { current_password: password, new_email: email }
} as const

/** Every error response refers to the one shared schema (registered by the plugin with addSchema). */
export const errorResponse = { $ref: `${ERROR_SCHEMA_ID}#` } as const

export const detailResponse = {
  type: 'object',
  required: ['detail'],
  additionalProperties: false,
  properties: { detail: { type: 'string' } }
} as const

export const registeredResponse = {
  type: 'object',
  required: ['id', 'email', 'is_verified'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    is_verified: { type: 'boolean' }
  }
} as const

export const meResponse = {
  type: 'object',
  required: ['id', 'email', 'is_verified', 'is_active', 'last_login'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    is_verified: { type: 'boolean' },
    is_active: { type: 'boolean' },
    last_login: { type: ['string', 'null'], format: 'date-time' }
  }
} as const

/** The error statuses every bundled route can answer, in one shape. */
export const errorResponses = {
  400: errorResponse,
  401: errorResponse,
  413: errorResponse,
  415: errorResponse,
  429: errorResponse,
  500: errorResponse,
  503: errorResponse
} as const
