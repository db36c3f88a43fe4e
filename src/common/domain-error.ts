/**
 * Domain errors carry a stable, machine-readable code (documented in docs/errors.md). Each transport maps codes
 * to its own shape in one place: tool results (`isError: true`), JSON-RPC errors, or HTTP statuses.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENTS'
  | 'ARGUMENTS_TOO_DEEP'
  | 'UNKNOWN_TOOL'
  | 'TOOL_FAILED'
  | 'INTERNAL_ERROR'
  | 'FORBIDDEN_ORIGIN'
  | 'FORBIDDEN_HOST'
  | 'SESSION_NOT_FOUND'
  | 'INVALID_REQUEST'
  | 'PARSE_ERROR'
  | 'HEADER_MISMATCH'
  | 'INVALID_ENVELOPE'
  | 'UNSUPPORTED_PROTOCOL_VERSION'
  | 'STATE_KEY_INVALID'
  | 'STATE_VALUE_INVALID'
  | 'STATE_VALUE_TOO_LARGE'
  | 'STATE_KEY_LIMIT'
  | 'STATE_VERSION_CONFLICT'
  | 'COUNTER_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'AUDIT_UNAVAILABLE'
  | 'GRANT_DENIED'
  | 'INSUFFICIENT_SCOPE'
  | 'UNAUTHENTICATED'
  | 'INVALID_TOKEN'
  | 'AUTH_UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'RATE_LIMIT_UNAVAILABLE'
  | 'CIRCUIT_OPEN'
  | 'TOOL_TIMEOUT'
  | 'OUTCOME_UNKNOWN'
  | 'TOOL_UNAVAILABLE'
  | 'DEPENDENCY_UNAVAILABLE'
  | 'TOOL_SUNSET'
  | 'TOOL_DISABLED'
  | 'CLIENT_UNSUPPORTED'
  | 'REQUEST_STATE_INVALID'
  | 'REQUEST_STATE_EXPIRED';

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
