import { MAX_ID_LENGTH } from '../common/identifiers.js';
import type { Principal } from '../common/principal.js';
import { isStorableText } from '../common/storable-text.js';
import { TokenRejectedError } from './auth.errors.js';
import { scopesOf } from './scopes.js';

export interface ClaimsPolicy {
  /** Accepted `aud` values (compared after normalising URLs; see `normalizeAudience`). */
  audiences: readonly string[];
  /** Claim naming the agent. */
  agentClaim: string;
  /** Claims holding the scopes. */
  scopeClaims: readonly string[];
  /** Leeway for clock skew (AUTH_CLOCK_TOLERANCE_SEC), here on `iat`. */
  clockToleranceSec: number;
}

/**
 * The checks that come after the signature, issuer and time checks (which jsonwebtoken has done by then), and the
 * principal they yield. Throws `TokenRejectedError` for anything a valid access token of this resource lacks.
 */
export function principalFromClaims(
  claims: Record<string, unknown>,
  policy: ClaimsPolicy,
  nowMs = Date.now(),
): Principal {
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
  // RFC 9068 §2.2 requires `iat`. One further ahead than the clock skew allowed for is no token of a sane IdP
  // (and a token dated ahead would outlive any issued-before cut-off).
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new TokenRejectedError('no iat');
  if (claims.iat > nowMs / 1000 + policy.clockToleranceSec) throw new TokenRejectedError('iat in the future');
  // ID-token markers (RFC 9068 §4 / RFC 8725 §3.11): matters when `typ` is not enforced (AUTH_REQUIRE_AT_JWT=false).
  if (claims.nonce !== undefined || claims.at_hash !== undefined) throw new TokenRejectedError('id token');
  // An identifier that could never be stored, audited or revoked (NUL, lone surrogates) makes the whole token
  // invalid, also where the claim is optional or its values would otherwise be skipped (scopes).
  for (const name of [policy.agentClaim, 'jti', 'uti', 'client_id', 'azp', ...policy.scopeClaims]) {
    const value = claims[name];
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && !isStorableText(v))) {
      throw new TokenRejectedError(`unstorable text in ${name}`);
    }
  }
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

/** A usable id (its text was checked above): a non-empty string that fits the indexed columns. */
function identifier(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH ? value : undefined;
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
