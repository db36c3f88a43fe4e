/**
 * Domain errors carry a stable, machine-readable code (documented in docs/errors.md). Each transport maps codes
 * to its own shape in one place: tool results (`isError: true`), JSON-RPC errors, or HTTP statuses.
 */
const CORE_ERROR_CODES = [
  'INVALID_ARGUMENTS',
  'ARGUMENTS_TOO_DEEP',
  'UNKNOWN_TOOL',
  'TOOL_FAILED',
  'INTERNAL_ERROR',
  'FORBIDDEN_ORIGIN',
  'FORBIDDEN_HOST',
  'SESSION_NOT_FOUND',
  'INVALID_REQUEST',
  'PARSE_ERROR',
  'HEADER_MISMATCH',
  'INVALID_ENVELOPE',
  'UNSUPPORTED_PROTOCOL_VERSION',
  'STATE_KEY_INVALID',
  'STATE_VALUE_INVALID',
  'STATE_VALUE_TOO_LARGE',
  'STATE_KEY_LIMIT',
  'STATE_VERSION_CONFLICT',
  'COUNTER_INVALID',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_IN_PROGRESS',
  'AUDIT_UNAVAILABLE',
  'GRANT_DENIED',
  'INSUFFICIENT_SCOPE',
  'UNAUTHENTICATED',
  'INVALID_TOKEN',
  'AUTH_UNAVAILABLE',
  'SHUTTING_DOWN',
  'NOT_FOUND',
  'RATE_LIMITED',
  'RATE_LIMIT_UNAVAILABLE',
  'CIRCUIT_OPEN',
  'TOOL_TIMEOUT',
  'OUTCOME_UNKNOWN',
  'TOOL_UNAVAILABLE',
  'DEPENDENCY_UNAVAILABLE',
  'TOOL_SUNSET',
  'TOOL_DISABLED',
  'CLIENT_UNSUPPORTED',
  'REQUEST_STATE_INVALID',
  'REQUEST_STATE_EXPIRED',
] as const;

/** A code of the core modules: each transport may map it to a shape of its own. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

declare const declared: unique symbol;
/** A code a tool pack declared with `defineErrorCodes`: always a tool error result carrying that code. */
export type PackErrorCode = string & { readonly [declared]: true };

/** Every code a DomainError may carry. A plain string literal is only accepted if it is a core code. */
export type ErrorCode = CoreErrorCode | PackErrorCode;

/**
 * A tool pack's own error codes, declared once in its folder, each with what it means:
 * `export const NotesErrors = defineErrorCodes({ NOTE_TOO_LONG: 'The note is over the length limit' })`, then
 * `new DomainError(NotesErrors.NOTE_TOO_LONG, ...)`. A core code is refused (at compile time and at load): a
 * pack must not mint, say, `GRANT_DENIED`, which clients read as a denial.
 */
export function defineErrorCodes<const C extends Record<string, string>>(
  codes: C & { [K in CoreErrorCode]?: never },
): PackErrorCodes<C> {
  for (const code of Object.keys(codes)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new Error(`Error code ${code} is not UPPER_SNAKE_CASE`);
    if ((CORE_ERROR_CODES as readonly string[]).includes(code))
      throw new Error(`Error code ${code} is a core code; a pack declares codes of its own`);
  }
  return Object.fromEntries(Object.keys(codes).map((code) => [code, code])) as PackErrorCodes<C>;
}

type PackErrorCodes<C> = { readonly [K in keyof C]: K & PackErrorCode };

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Safe, structured detail for the caller (never secrets). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
