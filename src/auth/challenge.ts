import { AuthError } from './auth.errors.js';
import { isScopeToken } from './scopes.js';

export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface Challenge {
  error?: BearerErrorCode;
  errorDescription?: string;
  scopes?: readonly string[];
  resourceMetadata: string;
}

/**
 * A `WWW-Authenticate: Bearer …` value (RFC 6750 §3, RFC 9728 §5.1): comma-separated `name="value"` pairs, each
 * at most once. Quoted values keep to the characters RFC 6750 allows: no `"` and no `\`, ever.
 */
export function bearerChallenge(challenge: Challenge): string {
  const params: string[] = [];
  if (challenge.error) params.push(`error="${challenge.error}"`);
  if (challenge.errorDescription)
    params.push(`error_description="${descriptionText(challenge.errorDescription)}"`);
  const scopes = (challenge.scopes ?? []).filter(isScopeToken);
  if (scopes.length) params.push(`scope="${[...new Set(scopes)].join(' ')}"`);
  params.push(`resource_metadata="${descriptionText(challenge.resourceMetadata)}"`);
  return `Bearer ${params.join(', ')}`;
}

/** RFC 6750 §3: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`; anything else becomes `?`. */
function descriptionText(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

/** `$PUBLIC_URL/.well-known/oauth-protected-resource/mcp`: RFC 9728 §3.1 path insertion for `$PUBLIC_URL/mcp`. */
export function resourceMetadataUrl(publicUrl: string): string {
  return `${publicUrl}/.well-known/oauth-protected-resource/mcp`;
}

/** The auth layer's HTTP answers, each with its challenge. Messages and descriptions are fixed, safe strings. */
export class AuthChallenges {
  constructor(readonly resourceMetadata: string) {}

  /** 401 without `error`: no credentials, or a scheme other than Bearer (RFC 6750 §3.1). */
  unauthenticated(): AuthError {
    return new AuthError('UNAUTHENTICATED', 'Authentication required', this.header({}));
  }

  /** 401 `invalid_token`: a token was sent and failed validation. Says "expired" and nothing more specific. */
  invalidToken(expired = false): AuthError {
    const description = expired ? 'The access token expired' : 'The access token is invalid';
    return new AuthError(
      'INVALID_TOKEN',
      description,
      this.header({ error: 'invalid_token', errorDescription: description }),
    );
  }

  /** 400 `invalid_request`, e.g. two `Authorization` headers. */
  invalidRequest(description: string): AuthError {
    return new AuthError(
      'INVALID_REQUEST',
      description,
      this.header({ error: 'invalid_request', errorDescription: description }),
    );
  }

  /** 403 `insufficient_scope` listing every scope the request needs, in one challenge. */
  insufficientScope(scopes: readonly string[]): AuthError {
    return new AuthError(
      'INSUFFICIENT_SCOPE',
      `Insufficient scope: requires ${scopes.join(' ')}`,
      this.header({ error: 'insufficient_scope', scopes }),
    );
  }

  private header(challenge: Omit<Challenge, 'resourceMetadata'>): Record<string, string> {
    return { 'www-authenticate': bearerChallenge({ ...challenge, resourceMetadata: this.resourceMetadata }) };
  }
}
