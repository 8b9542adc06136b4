/** A table or trigger name as an SQL identifier (double-quoted, inner quotes doubled), for DDL run raw. */
export function quotedIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
