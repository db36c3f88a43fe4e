import { KeyObject } from 'node:crypto';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type CryptoKey,
  type JWSHeaderParameters,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import { DevAuthService } from './dev-auth.service.js';

type KeySet = (header: JWSHeaderParameters) => Promise<CryptoKey>;

/** How long a failed discovery is remembered before the next request may try again. */
const DISCOVERY_RETRY_MS = 5000;
const FETCH_TIMEOUT_MS = 5000;
const USER_AGENT = 'mcp-production (resource server)';

/**
 * The key a token must be verified with, found from its header, and every check that needs only the header and
 * the issuer (passport-jwt's `secretOrKeyProvider`; jsonwebtoken then verifies signature, algorithm, issuer and
 * time). Order matters: the issuer is checked before any key is fetched, so no token can make this server fetch
 * anything from anywhere but the configured IdP (RFC 8725 §3.10; SSRF).
 *
 * Keys come from the IdP's JWKS through jose's `createRemoteJWKSet`: cached, refetched at most once per
 * `AUTH_JWKS_COOLDOWN_SEC` when a token names an unknown `kid` (key rotation), and re-read every 10 minutes.
 * `jku`, `x5u` and `jwk` headers are ignored; keys come from configuration only.
 */
@Injectable()
export class SigningKeyResolver implements OnApplicationBootstrap {
  private keySet?: Promise<KeySet>;
  private failedAt = 0;
  /** jose caches imported keys; this keeps their KeyObject form (what jsonwebtoken takes) alongside. */
  private readonly keyObjects = new WeakMap<CryptoKey, KeyObject>();

  constructor(
    private readonly config: AppConfig,
    private readonly devAuth: DevAuthService,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('auth');
  }

  /** Warms the key cache (and runs discovery) at boot without making the boot depend on the IdP. */
  onApplicationBootstrap(): void {
    if (this.config.auth.mode === 'dev') return;
    const warn = (error: unknown) =>
      this.logger.warn({ err: error }, 'cannot load the IdP signing keys yet; will retry on demand');
    this.keys().then(async (keySet) => {
      try {
        await keySet({ alg: this.config.auth.algorithms[0] });
      } catch (error) {
        // No key (or several) for this one algorithm is fine here: the set itself was fetched.
        if (!(error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys))
          warn(error);
      }
    }, warn);
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
   * The key the JWKS as this server knows it now holds for a (checked) header. jose re-imports every key when it
   * re-reads the JWKS, so the same object comes back only while the JWKS has not changed since: a cached
   * verification is used only while this returns the very key it was made with.
   */
  async publishedKey(header: ProtectedHeaderParameters): Promise<KeyObject> {
    const keySet = await this.keys();
    try {
      const key = await keySet(header);
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
      throw new AuthUnavailableError("Cannot fetch the identity provider's signing keys", error);
    }
  }

  private keys(): Promise<KeySet> {
    if (!this.keySet) {
      if (Date.now() - this.failedAt < DISCOVERY_RETRY_MS) {
        return Promise.reject(new AuthUnavailableError('Cannot discover the identity provider'));
      }
      this.keySet = this.createKeySet().catch((error: unknown) => {
        this.keySet = undefined;
        this.failedAt = Date.now();
        throw new AuthUnavailableError('Cannot discover the identity provider', error);
      });
    }
    return this.keySet;
  }

  private async createKeySet(): Promise<KeySet> {
    const { auth } = this.config;
    if (auth.mode === 'dev') return createLocalJWKSet({ keys: [this.devAuth.key.publicJwk] });
    const jwksUri = auth.jwksUri ?? (await discoverJwksUri(auth.issuer, this.config.env === 'production'));
    this.logger.info({ issuer: auth.issuer, jwksUri }, 'verifying access tokens with the IdP keys');
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: auth.jwksCooldownSec * 1000,
      timeoutDuration: FETCH_TIMEOUT_MS,
      headers: { 'user-agent': USER_AGENT },
    });
  }
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
export async function discoverJwksUri(issuer: string, requireHttps: boolean): Promise<string> {
  const failures: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', 'user-agent': USER_AGENT },
        redirect: 'error',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
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
