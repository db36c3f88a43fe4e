import type { Principal } from '../common/principal.js';
import { TokenRejectedError } from './auth.errors.js';
import { scopesOf } from './scopes.js';

export interface ClaimsPolicy {
  /** Accepted `aud` values (compared after normalising URLs; see `normalizeAudience`). */
  audiences: readonly string[];
  /** Claim naming the agent. */
  agentClaim: string;
  /** Claims holding the scopes. */
  scopeClaims: readonly string[];
}

/** Longest accepted identifier (agent, client, token id): they are stored in indexed text columns. */
const MAX_ID_LENGTH = 255;

/**
 * The checks that come after the signature, issuer and time checks (which jsonwebtoken has done by then), and the
 * principal they yield. Throws `TokenRejectedError` for anything a valid access token of this resource lacks.
 */
export function principalFromClaims(claims: Record<string, unknown>, policy: ClaimsPolicy): Principal {
  const accepted = new Set(policy.audiences.map(normalizeAudience));
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
  if (
    !Array.isArray(audiences) ||
    !audiences.some((aud) => typeof aud === 'string' && accepted.has(normalizeAudience(aud)))
  ) {
    throw new TokenRejectedError('audience');
  }
  // jsonwebtoken checks exp only when present; an access token without an expiry is never accepted.
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new TokenRejectedError('no exp');
  // ID-token markers (RFC 9068 §4 / RFC 8725 §3.11): matters when `typ` is not enforced (AUTH_REQUIRE_AT_JWT=false).
  if (claims.nonce !== undefined || claims.at_hash !== undefined) throw new TokenRejectedError('id token');
  const agentId = identifier(claims[policy.agentClaim]);
  if (!agentId) throw new TokenRejectedError(`no ${policy.agentClaim}`);
  // The revocation handle. Entra ID names it `uti`.
  const tokenId = identifier(claims.jti) ?? identifier(claims.uti);
  if (!tokenId) throw new TokenRejectedError('no jti');
  const clientId = identifier(claims.client_id) ?? identifier(claims.azp);
  return {
    agentId,
    ...(clientId && { clientId }),
    scopes: scopesOf(claims, policy.scopeClaims),
    tokenId,
    expiresAt: claims.exp * 1000,
  };
}

/** A usable id: PostgreSQL text cannot hold NUL, so an id with one could never be looked up (grants, revocations). */
function identifier(value: unknown): string | undefined {
  return typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_ID_LENGTH &&
    !value.includes('\u0000')
    ? value
    : undefined;
}

/**
 * HTTP(S) URLs compare with scheme and host lowercased, default ports dropped and no fragment (MCP: servers SHOULD
 * accept uppercase scheme and host). Paths stay case-sensitive. Anything else (App ID URIs, GUIDs) compares exactly.
 */
export function normalizeAudience(value: string): string {
  if (!/^https?:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    url.hash = '';
    return url.href;
  } catch {
    return value;
  }
}
