export { authUserColumns, users, sessions, refreshTokens, loginAttempts, deviceTokens } from './schema.ts'
export type { UserRow, NewUserRow, SessionRow, RefreshTokenRow } from './schema.ts'
