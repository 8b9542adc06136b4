import { fastifyDrizzleAuth } from './plugin.ts'

export default fastifyDrizzleAuth
export { fastifyDrizzleAuth }
export type { FastifyDrizzleAuthOptions } from './options.ts'
export type { RoutesOptions, JsonSchema } from './routes/options.ts'
export { securitySchemes, SECURITY_SCHEME_NAME, COOKIE_SCHEME_NAME, ERROR_SCHEMA_ID } from './openapi.ts'
export { configure, getConfig, MIN_SECRET_BYTES } from './service/config.ts'
export type { AuthConfig, ResolvedConfig, LoginRateLimitConfig, RegistrationRateLimitConfig, DrizzleDatabase } from './service/config.ts'
export { AuthService } from './service/auth-service.ts'
export type { AccountRequestOptions, AfterAnswer, EmailConfirmOptions } from './service/account-flows.ts'
export type {
  AccountConfig, AccountLinks, ActionTokenTtlConfig, MailRateLimitConfig, OutboxConfig, ResolvedAccountConfig
} from './service/account-config.ts'
export { defaultTemplates } from './service/mail-messages.ts'
export type { Mailer, MailMessage, MailMessageType, MailTemplate, MailTemplateContext, MailTemplates, RenderedMail } from './service/mail-messages.ts'
export { smtpMailer } from './mail/smtp.ts'
export type { SmtpMailer, SmtpMailerOptions } from './mail/smtp.ts'
export { directoryMailer } from './mail/directory.ts'
export type { DirectoryMailer, DirectoryMailerOptions } from './mail/directory.ts'
export type {
  LoginOptions, LoginResult, PasswordChangeOptions, RegisterOptions, TokenPair, VerifiedAccess, VerifyCallback
} from './service/results.ts'
export type { HashQueueState } from './service/passwords.ts'
export type { AuthUser, AuthUserFields } from './service/user.ts'
export type { AuthEvents, AuthEventName, AuthEventListener, AuthLogger, LoginFailureReason } from './service/events.ts'
export type { AccessClaims, JwtAlgorithm } from './service/tokens.ts'
export {
  defaultValidators, minimumLength, notCommon, notNumeric, notSimilarToEmail, BCRYPT_MAX_BYTES
} from './service/validators.ts'
export type { PasswordValidator, PasswordContext } from './service/validators.ts'
export { normalizeEmail } from './service/email.ts'
export { loginRequired, requireAuth, requires } from './guards.ts'
export type { LoginRequiredOptions, AuthGuard } from './guards.ts'
export { AnonymousUser } from './anonymous.ts'
export type { AuthInfo, TokenStatus } from './types.ts'
export {
  AuthError, AuthenticationError, TokenError, TokenExpiredError, TokenInvalidError, TokenRevokedError,
  InvalidPasswordError, InvalidCurrentPasswordError, InvalidEmailError, ConflictError, ConfigurationError,
  RateLimitError, ServiceUnavailableError, BusyError, InvalidArgumentError, InvalidFieldError, LoginRequiredError, InsufficientScopeError, CsrfRejectedError, MissingRefreshTokenError,
  InvalidActionTokenError, EmailNotVerifiedError, SessionNotFoundError, UseLogoutError
} from './errors.ts'
export { oidc, google, microsoft, github } from './oauth/providers.ts'
export type { ProviderDefinition, OidcSettings, MicrosoftSettings, GitHubSettings, GitHubEndpoints } from './oauth/providers.ts'
export type { ProviderSignIn, StartOptions, Completion, CallbackOutcome, ProviderToken } from './oauth/sign-in.ts'
export { ProviderSignInError, ProviderUnavailableError, PROVIDER_ERRORS } from './oauth/errors.ts'
export type { ProviderErrorCode } from './oauth/errors.ts'
export { MIGRATIONS_TABLE, MIGRATIONS_SCHEMA } from './db/migrations-table.ts'
export type {
  AnyAuthStore, AuthStore, UserStore, SessionStore, LimitStore, DeviceStore, ActionStore, MaintenanceStore, AccountStore,
  AccountRecord, AccountSighting, CompletionCode, ConsumedCompletion, LinkOutcome, NewAccount, NewOAuthFlow, OAuthFlowRecord, UnlinkOutcome,
  AttemptCount, AttemptLimit, AttemptOutcome, AttemptSettlement, DeviceCheck, LoginPeek, CheckedCredentials, FoundSession, ModeResult,
  NewDeviceToken, NewSession, NewUserRecord, PublicUserRecord, RotationResult, SessionExtras, SessionState, StoreLogger, StoreMode, UserPatch, UserRecord,
  ActionPurpose, ActionTokenRecord, ClaimedOutboxMessage, ConsumedAction, EmailChangeResult, NewActionToken, NewOutboxMessage,
  RotationContext, SessionListing, SessionLookupDiagnostics, StoreDiagnostics
} from './db/store.ts'
