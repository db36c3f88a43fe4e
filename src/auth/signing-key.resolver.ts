import { KeyObject } from 'node:crypto';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type CryptoKey,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import { DevAuthService } from './dev-auth.service.js';
import { JwksCache, type KeyLookup } from './jwks-cache.js';

/** How often the IdP's JWKS is re-read (in the background) while it is reachable. */
const JWKS_REFRESH_MS = 10 * 60 * 1000;
const USER_AGENT = 'mcp-production (resource server)';

/**
 * The key a token must be verified with, found from its header, and every check that needs only the header and
 * the issuer (passport-jwt's `secretOrKeyProvider`; jsonwebtoken then verifies signature, algorithm, issuer and
 * time). Order matters: the issuer is checked before any key is fetched, so no token can make this server fetch
 * anything from anywhere but the configured IdP (RFC 8725 §3.10; SSRF).
 *
 * Keys come from the IdP's JWKS through `JwksCache` (the outage policy): re-read every 10 minutes in the
 * background, refetched at most once per `AUTH_JWKS_COOLDOWN_SEC` when a token names an unknown `kid` (key
 * rotation), every fetch bounded by `AUTH_JWKS_TIMEOUT_MS`, and the last good JWKS used for up to
 * `AUTH_JWKS_STALE_MAX_SEC` while the IdP cannot be reached. `jku`, `x5u` and `jwk` headers are ignored; keys
 * come from configuration only.
 */
@Injectable()
export class SigningKeyResolver implements OnApplicationBootstrap {
  private readonly jwks?: JwksCache;
  private devKeys?: KeyLookup;
  /** The JWKS location, once known (configured, or discovered: then kept for the life of the process). */
  private jwksUri?: string;
  /** jose caches imported keys; this keeps their KeyObject form (what jsonwebtoken takes) alongside. */
  private readonly keyObjects = new WeakMap<CryptoKey, KeyObject>();

  constructor(
    private readonly config: AppConfig,
    private readonly devAuth: DevAuthService,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('auth');
    const { auth } = config;
    if (auth.mode === 'dev') return;
    this.jwksUri = auth.jwksUri;
    this.jwks = new JwksCache({
      fetch: (signal) => this.fetchJwks(signal),
      timeoutMs: auth.jwksTimeoutMs,
      cooldownMs: auth.jwksCooldownSec * 1000,
      refreshAfterMs: JWKS_REFRESH_MS,
      staleMaxMs: auth.jwksStaleMaxSec * 1000,
      // One line when an outage begins and one when it ends, however many fetches fail in between.
      onFetchFailed: (error, failures) => {
        if (failures === 1)
          this.logger.warn(
            { reason: reasonOf(error), staleMaxSec: auth.jwksStaleMaxSec }, // an expected outage: no stack
            'cannot fetch the IdP signing keys; the last good ones stay in use (if any) until AUTH_JWKS_STALE_MAX_SEC',
          );
      },
      onRecovered: (failures) =>
        this.logger.info({ failedFetches: failures }, 'the IdP signing keys can be fetched again'),
    });
  }

  /** Warms the key cache (and runs discovery) at boot without making the boot depend on the IdP. */
  onApplicationBootstrap(): void {
    this.jwks?.refresh().catch(() => undefined); // a failure is logged by onFetchFailed; requests retry
  }

  async keyFor(rawJwt: string): Promise<KeyObject> {
    return (await this.resolve(rawJwt)).key;
  }

  /** `keyFor`, with the header it was found from (the verification cache keeps both; see `publishedKey`). */
  async resolve(rawJwt: string): Promise<{ key: KeyObject; header: ProtectedHeaderParameters }> {
    const { auth } = this.config;
    let header: ProtectedHeaderParameters;
    let payload: JWTPayload;
    try {
      if (rawJwt.split('.').length !== 3) throw new Error('not a JWS');
      header = decodeProtectedHeader(rawJwt);
      payload = decodeJwt(rawJwt);
    } catch {
      throw new TokenRejectedError('malformed');
    }
    if (typeof header.alg !== 'string' || !(auth.algorithms as readonly string[]).includes(header.alg)) {
      throw new TokenRejectedError('algorithm');
    }
    // No JWS extension is understood here, so a critical one must fail (RFC 7515 §4.1.11).
    if (header.crit !== undefined) throw new TokenRejectedError('crit');
    if (!typeAllowed(header.typ, auth.requireAtJwt)) throw new TokenRejectedError('typ');
    if (payload.iss !== auth.issuer) throw new TokenRejectedError('issuer');
    return { key: await this.publishedKey(header), header };
  }

  /**
   * The key the JWKS as this server knows it now holds for a (checked) header. A re-read JWKS that changed is
   * imported anew, so the same object comes back only while the JWKS has not changed since: a cached
   * verification is used only while this returns the very key it was made with.
   */
  async publishedKey(header: ProtectedHeaderParameters): Promise<KeyObject> {
    try {
      const key = await (this.jwks ? this.jwks.key(header) : this.devKeySet()(header));
      let keyObject = this.keyObjects.get(key);
      if (!keyObject) this.keyObjects.set(key, (keyObject = KeyObject.from(key)));
      return keyObject;
    } catch (error) {
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSENotSupported ||
        error instanceof errors.JWKInvalid
      ) {
        throw new TokenRejectedError('no matching key');
      }
      if (error instanceof AuthUnavailableError) throw error;
      throw new AuthUnavailableError("Cannot fetch the identity provider's signing keys", error);
    }
  }

  private devKeySet(): KeyLookup {
    return (this.devKeys ??= createLocalJWKSet({ keys: [this.devAuth.key.publicJwk] }));
  }

  /** One fetch of the JWKS (after discovery, the first time), all of it bounded by `signal`. */
  private async fetchJwks(signal: AbortSignal): Promise<unknown> {
    const { auth } = this.config;
    if (!this.jwksUri) {
      this.jwksUri = await discoverJwksUri(auth.issuer, this.config.env === 'production', signal);
      this.logger.info({ issuer: auth.issuer, jwksUri: this.jwksUri }, 'discovered the IdP signing keys');
    }
    const response = await fetch(this.jwksUri, {
      headers: { accept: 'application/json', 'user-agent': USER_AGENT },
      redirect: 'error',
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`${this.jwksUri}: HTTP ${response.status}`);
    }
    return response.json();
  }
}

/** An error's message and its cause's (fetch says "fetch failed", its cause says why), without stack traces. */
function reasonOf(error: unknown): string {
  const { message, cause } = error as { message?: unknown; cause?: { message?: unknown } };
  return [message, cause?.message].filter((part) => typeof part === 'string').join(': ');
}

/**
 * RFC 9068 §4 wants `typ: at+jwt` (or `application/at+jwt`, case-insensitive). With the policy relaxed for IdPs
 * that do not send it (Keycloak, Entra ID), `JWT` or no `typ` pass too; any other explicit type never does.
 */
export function typeAllowed(typ: unknown, requireAtJwt: boolean): boolean {
  if (typ === undefined) return !requireAtJwt;
  if (typeof typ !== 'string') return false;
  const normalized = typ.toLowerCase().replace(/^application\//, '');
  return normalized === 'at+jwt' || (!requireAtJwt && normalized === 'jwt');
}

/**
 * `jwks_uri` from the issuer's OpenID discovery document, else its RFC 8414 metadata. The document must name the
 * very issuer it was fetched for (OIDC Discovery §4.3, RFC 8414 §3.3).
 */
export async function discoverJwksUri(
  issuer: string,
  requireHttps: boolean,
  signal: AbortSignal = AbortSignal.timeout(2000),
): Promise<string> {
  const failures: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', 'user-agent': USER_AGENT },
        redirect: 'error',
        signal,
      });
    } catch (error) {
      failures.push(`${url}: ${(error as Error).message}`);
      continue;
    }
    if (!response.ok) {
      failures.push(`${url}: HTTP ${response.status}`);
      await response.body?.cancel();
      continue;
    }
    const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata.issuer !== issuer) {
      throw new Error(`${url} names issuer ${String(metadata.issuer)}, not ${issuer}`);
    }
    const jwksUri = metadata.jwks_uri;
    if (
      typeof jwksUri !== 'string' ||
      !/^https?:\/\//.test(jwksUri) ||
      (requireHttps && !jwksUri.startsWith('https:'))
    ) {
      throw new Error(`${url} has no usable jwks_uri`);
    }
    return jwksUri;
  }
  throw new Error(`no discovery document for ${issuer} (${failures.join('; ')})`);
}

/** OIDC Discovery appends to the issuer; RFC 8414 §3.1 inserts the well-known segment before its path. */
export function discoveryUrls(issuer: string): string[] {
  const base = issuer.replace(/\/+$/, '');
  const { origin, pathname } = new URL(base);
  const path = pathname === '/' ? '' : pathname;
  return [
    `${base}/.well-known/openid-configuration`,
    `${origin}/.well-known/oauth-authorization-server${path}`,
  ];
}
