// Anything shaped like an address, with or without angle brackets or quotes around its local part.
const ADDRESS = /<?(?:"[^"]*"|[^\s<>()[\]\\,;:"@]+)@[^\s<>()[\]\\,;:"]+>?/g

/**
 * What a failed send may say in a log, an event and the outbox row: the SMTP reply code and the text with
 * every address replaced, since a server's rejection often quotes the recipient.
 */
export function describeMailError (err: unknown): { responseCode?: number, message: string } {
  const text = err instanceof Error ? err.message : String(err)
  const message = text.replace(ADDRESS, '[address]').slice(0, 1000)
  const code = (err as { responseCode?: unknown } | null)?.responseCode
  return typeof code === 'number' ? { responseCode: code, message } : { message }
}
