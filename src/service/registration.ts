import type { Table } from 'drizzle-orm'
import type { ResolvedConfig } from './config.ts'
import { type AccountFlows, afterAnswer } from './account-flows.ts'
import { objectArgument, optionalString, passwordArgument } from './arguments.ts'
import { normalizeAndCheckEmail } from './email.ts'
import type { AuthEventEmitter } from './events.ts'
import { type AttemptLimiter, ipKey } from './limits.ts'
import type { PasswordHasher } from './passwords.ts'
import type { RegisterOptions } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import { type AuthUser, toAuthUser, withoutHash } from './user.ts'
import { checkRequiredFields, type RegisterFields, registerFieldsArgument } from './user-fields.ts'

export interface RegistrationDependencies {
  config: ResolvedConfig
  db: StoreAccess
  passwords: PasswordHasher
  limits: AttemptLimiter
  events: AuthEventEmitter
  account: AccountFlows
}

/**
 * A registration: the address's limit, the password's validators and hash, one insert (the unique index
 * decides between two of the same email), and, with a mailer, the verification link after the answer.
 */
export class RegistrationFlow<TUsers extends Table | undefined> {
  readonly #d: RegistrationDependencies

  constructor (dependencies: RegistrationDependencies) {
    this.#d = dependencies
  }

  async run (email: string, password: string, fields: RegisterFields<TUsers>, options: RegisterOptions): Promise<AuthUser> {
    const { config, db, passwords, limits, events, account } = this.#d
    const normalized = normalizeAndCheckEmail(email)
    passwords.validate(passwordArgument(password), { email: normalized })
    const extra = registerFieldsArgument(fields, config)
    checkRequiredFields(extra, config.usersTable)
    const ip = optionalString(objectArgument(options, 'options').ip, 'options.ip')
    const after = afterAnswer(options)
    await limits.registration(ip)
    const passwordHash = await passwords.hash(password, ip === null ? undefined : ipKey(ip))
    const row = await db.call((store) => store.users.create({ ...extra, email: normalized, passwordHash }))
    const user = toAuthUser(withoutHash(row))
    events.emit('user_registered', { user })
    if (config.account.mailer !== undefined && config.account.sendVerificationOnRegister) account.sendVerification(row, after)
    return user
  }
}
