import { DomainError, type ErrorCode } from '../common/domain-error.js';
import type { WithHeaders } from '../common/http-exception.filter.js';

/** An answer of the auth layer: the HTTP filter sends `headers` (the `WWW-Authenticate` challenge) with it. */
export class AuthError extends DomainError implements WithHeaders {
  constructor(
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string>,
  ) {
    super(code, message);
  }
}

/**
 * A token that failed validation. Internal: the auth guard answers every one of them with 401 `invalid_token`.
 * `reason` goes to the debug log only, never to the client (which learns nothing beyond "invalid" or "expired").
 */
export class TokenRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`access token rejected: ${reason}`);
    this.name = 'TokenRejectedError';
  }
}

/**
 * The token could not be checked because a dependency is down (the IdP's keys, the revocation list): 503. A 401
 * here would send well-behaved clients off to fetch new tokens that fail the same way.
 */
export class AuthUnavailableError extends DomainError {
  constructor(message: string, cause?: unknown) {
    super('AUTH_UNAVAILABLE', message);
    if (cause !== undefined) this.cause = cause;
  }
}
