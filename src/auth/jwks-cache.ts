import {
  createLocalJWKSet,
  errors,
  type CryptoKey,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';
import { AuthUnavailableError } from './auth.errors.js';

export type KeyLookup = (header: JWSHeaderParameters) => Promise<CryptoKey>;

export interface JwksCacheOptions {
  /** Reads the JWKS from the IdP (discovery included); must stop when `signal` aborts. */
  fetch: (signal: AbortSignal) => Promise<unknown>;
  /** Bound on one fetch (AUTH_JWKS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Least time between two fetches a request may wait for: unknown `kid`s, retries after a failure. */
  cooldownMs: number;
  /** Age after which the keys are re-read, in the background. */
  refreshAfterMs: number;
  /** Age after which the keys are no longer used, IdP reachable or not (AUTH_JWKS_STALE_MAX_SEC). */
  staleMaxMs: number;
  now?: () => number;
  /** A fetch failed; `failures` counts the failures in a row (1 = an outage begins). */
  onFetchFailed?: (error: unknown, failures: number) => void;
  /** A fetch succeeded after `failures` failures in a row. */
  onRecovered?: (failures: number) => void;
}

/**
 * The IdP's signing keys, with an outage policy (issue #15 class 7). jose's `createRemoteJWKSet` re-reads its
 * JWKS on the request path every 10 minutes and has no fallback: once the IdP is down past that, every request
 * fails. Here:
 * - the last successfully fetched JWKS keeps verifying tokens for `staleMaxMs`, reachable IdP or not;
 * - after `refreshAfterMs` it is re-read in the background: a request whose `kid` is known never waits for it;
 * - a request waits for the IdP only when it must (no usable keys yet, or an unknown `kid`, at most once per
 *   `cooldownMs`), and then at most `timeoutMs`; one fetch at a time, which every waiting request shares;
 * - an unknown `kid` is a bad token (401) only if the IdP was asked: while its last fetch failed it is a 503;
 * - a fetched JWKS replaces the old one whole, so a key the IdP no longer publishes stops working (rotation).
 *   A JWKS identical to the one held keeps its imported keys (verifications cached by key identity stay valid).
 */
export class JwksCache {
  private keys?: { lookup: KeyLookup; text: string; fetchedAt: number };
  private fetching?: Promise<void>;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private readonly now: () => number;

  constructor(private readonly options: JwksCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key for a JWS header. Rejects with jose's JWKS errors (a bad token) or `AuthUnavailableError`. */
  async key(header: JWSHeaderParameters): Promise<CryptoKey> {
    const age = this.keys ? this.now() - this.keys.fetchedAt : Number.POSITIVE_INFINITY;
    if (age > this.options.staleMaxMs) {
      if (this.failures > 0 && !this.fetching && !this.cooledDown()) throw this.unavailable();
      await this.fetch();
    } else if (
      age >= this.options.refreshAfterMs &&
      !this.fetching &&
      (this.failures === 0 || this.cooledDown())
    ) {
      this.fetch().catch(() => undefined); // reported through onFetchFailed; the current keys serve meanwhile
    }
    try {
      return await this.keys!.lookup(header);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // Maybe a key published since the last fetch (rotation): ask the IdP, or join the fetch under way.
      if (this.fetching || this.cooledDown()) {
        await this.fetch();
        return this.keys!.lookup(header);
      }
      // On cooldown. Unknown to an IdP that answered: a bad token. Its last fetch failed: nobody can tell.
      if (this.failures > 0) throw this.unavailable(error);
      throw error;
    }
  }

  /** Fetches now (single flight); rejects with `AuthUnavailableError` when the IdP does not deliver. */
  refresh(): Promise<void> {
    return this.fetch();
  }

  private fetch(): Promise<void> {
    this.fetching ??= this.fetchOnce().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchOnce(): Promise<void> {
    this.lastAttemptAt = this.now();
    try {
      const jwks = await this.options.fetch(AbortSignal.timeout(this.options.timeoutMs));
      const text = JSON.stringify(jwks);
      const fetchedAt = this.now();
      if (this.keys?.text === text) this.keys.fetchedAt = fetchedAt;
      else this.keys = { lookup: createLocalJWKSet(jwks as JSONWebKeySet), text, fetchedAt }; // validates the shape
    } catch (error) {
      this.options.onFetchFailed?.(error, ++this.failures);
      throw this.unavailable(error);
    }
    if (this.failures > 0) this.options.onRecovered?.(this.failures);
    this.failures = 0;
  }

  private cooledDown(): boolean {
    return this.now() - this.lastAttemptAt >= this.options.cooldownMs;
  }

  private unavailable(cause?: unknown): AuthUnavailableError {
    return new AuthUnavailableError("Cannot fetch the identity provider's signing keys", cause);
  }
}
