import { createHash, type KeyObject } from 'node:crypto';
import type { ProtectedHeaderParameters } from 'jose';
import type { Principal } from '../common/principal.js';

/** What a successful verification of one token established, and what it depended on. */
export interface VerifiedToken {
  /** The principal its claims yield (frozen: shared by every request that presents the token). */
  principal: Principal;
  /** The checked JWS header, to look its key up again in the JWKS as this server knows it now. */
  header: ProtectedHeaderParameters;
  /** The key the signature was verified with. */
  key: KeyObject;
  /** `exp` and `nbf` (seconds since epoch), rechecked on every use with the same leeway as jsonwebtoken. */
  exp: number;
  nbf?: number;
}

interface Entry extends VerifiedToken {
  /** When this entry stops being used (ms since epoch), whatever the token says. */
  staleAt: number;
}

export interface VerifiedTokenCacheOptions {
  maxEntries: number;
  /** Upper bound on an entry's life: a token is verified again at least this often. */
  maxAgeMs: number;
  /** The clock leeway jsonwebtoken applies to exp and nbf (AUTH_CLOCK_TOLERANCE_SEC). */
  clockToleranceSec: number;
  now?: () => number;
}

export const VERIFIED_TOKEN_CACHE_DEFAULTS = { maxEntries: 10_000, maxAgeMs: 60_000 } as const;

/**
 * Successful JWT signature verifications, so that a token presented again skips the signature check (ES256
 * verification was ~4% of server CPU per call). Only verification is cached, never a decision:
 * - an entry is stored only after the full verification succeeded (signature, issuer, time, audience, claims);
 *   a failure is never stored;
 * - the revocation list is still read from the database on every request (JwtStrategy does that after a hit);
 * - exp and nbf are rechecked on every use with the same leeway, and an entry is never used past its token's
 *   `exp` + leeway, nor more than `maxAgeMs` (60 s) after it was stored;
 * - on use, the key the token names is looked up again in the JWKS as this server knows it now, and the entry is
 *   used only if that is the very key it was verified with: once a key is no longer published (after the JWKS is
 *   re-read) or was replaced, the token goes through full verification again (and fails if its key is gone);
 * - bounded LRU of `maxEntries` (10,000) entries, keyed by the SHA-256 of the token (the token itself is not
 *   kept, and a large token costs no more memory than a small one).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  /** Lookups that found a live entry (for tests and diagnostics); JwtStrategy then checks its key still holds. */
  hits = 0;

  constructor(private readonly options: VerifiedTokenCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for this token if it may still be used at this moment, else undefined (and it is dropped). */
  get(token: string): VerifiedToken | undefined {
    const id = tokenId(token);
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const nowMs = this.now();
    if (nowMs >= entry.staleAt || !withinLifetime(entry, nowMs, this.options.clockToleranceSec)) {
      this.entries.delete(id);
      return undefined;
    }
    // Most recently used last: Map iteration order is insertion order.
    this.entries.delete(id);
    this.entries.set(id, entry);
    this.hits++;
    return entry;
  }

  set(token: string, verified: VerifiedToken): void {
    const nowMs = this.now();
    if (!withinLifetime(verified, nowMs, this.options.clockToleranceSec)) return;
    const staleAt = Math.min(
      nowMs + this.options.maxAgeMs,
      (verified.exp + this.options.clockToleranceSec) * 1000,
    );
    const id = tokenId(token);
    this.entries.delete(id);
    this.entries.set(id, { ...verified, principal: Object.freeze({ ...verified.principal }), staleAt });
    while (this.entries.size > this.options.maxEntries) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }

  delete(token: string): void {
    this.entries.delete(tokenId(token));
  }

  clear(): void {
    this.entries.clear();
  }
}

function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

/** jsonwebtoken's own rules (verify.js): expired when now >= exp + leeway; not yet valid when nbf > now + leeway. */
function withinLifetime(token: { exp: number; nbf?: number }, nowMs: number, leewaySec: number): boolean {
  const now = Math.floor(nowMs / 1000);
  if (now >= token.exp + leewaySec) return false;
  return token.nbf === undefined || token.nbf <= now + leewaySec;
}
