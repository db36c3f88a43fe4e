import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** Algorithms the test IdP can sign with (one key pair per algorithm, made on first use). */
export type TestIdpAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'PS256';

export interface TestIdpOptions {
  /** Default `aud` of minted tokens (startApp sets the app's resource identifier). */
  audience?: string;
  /** Which discovery documents to serve (default both), to test the fallback. */
  discovery?: 'both' | 'openid' | 'oauth' | 'none';
}

export interface MintOptions {
  /** `'5m'`, `'1h'`… (jose syntax), or seconds from now (negative: already expired). Default `'5m'`. */
  expiresIn?: string | number;
  /** `nbf` in seconds from now (or a jose duration string). Omitted by default. */
  notBefore?: string | number;
  /** `iat` as seconds since the epoch. Default: now. */
  issuedAt?: number;
  /** Sign with this key (any key the IdP made, published or not). Default: the current key of `alg`. */
  kid?: string;
  /** Header `typ`; `null` leaves it out. Default `at+jwt` (RFC 9068). */
  typ?: string | null;
  /** Default `ES256`. A first use of an algorithm makes (and publishes) a key pair for it. */
  alg?: TestIdpAlgorithm;
  /** `aud`; `null` leaves it out. Default: the IdP's `audience`. */
  audience?: string | string[] | null;
  /** `iss`. Default: the IdP's issuer. */
  issuer?: string;
  /** `jti`; `null` leaves it out. Default: a random UUID. */
  jti?: string | null;
  /** Sign with a fresh key that is never published (an unknown `kid`). */
  unpublishedKey?: boolean;
  /** Extra protected-header parameters. */
  header?: Record<string, unknown>;
}

interface KeyEntry {
  kid: string;
  alg: TestIdpAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  published: boolean;
}

/**
 * An identity provider the test owns: key pairs made with jose, its JWKS and discovery documents (OpenID and
 * RFC 8414) served on a loopback port, and `mint()` for access tokens, well-formed or deliberately broken.
 * Start it with `TestIdp.start()`; `startApp()` starts one for each app unless given one.
 */
export class TestIdp {
  /** How many times the JWKS was fetched (to check the refetch rate limit). */
  jwksRequests = 0;
  audience: string | undefined;
  private readonly keys: KeyEntry[] = [];
  private readonly current = new Map<TestIdpAlgorithm, string>();
  private keyCount = 0;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    options: TestIdpOptions,
  ) {
    this.audience = options.audience;
  }

  static async start(options: TestIdpOptions = {}): Promise<TestIdp> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const idp = new TestIdp(server, `http://127.0.0.1:${port}`, options);
    const discovery = options.discovery ?? 'both';
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET') return json(405, { error: 'method_not_allowed' });
      if (path === '/jwks.json') {
        idp.jwksRequests++;
        return json(200, idp.jwks());
      }
      const openid =
        path === '/.well-known/openid-configuration' && (discovery === 'both' || discovery === 'openid');
      const oauth =
        path === '/.well-known/oauth-authorization-server' && (discovery === 'both' || discovery === 'oauth');
      if (openid || oauth) return json(200, idp.metadata());
      return json(404, { error: 'not_found' });
    });
    await idp.rotate();
    return idp;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks.json`;
  }

  /** The published keys, as served at `jwksUri`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.filter((k) => k.published).map((k) => k.publicJwk) };
  }

  /** A signed access token: `sub`, `scope` and any other claims given, plus iss/aud/jti/iat/exp by default. */
  async mint(
    claims: { sub: string; scope?: string; [k: string]: unknown },
    options: MintOptions = {},
  ): Promise<string> {
    const key = options.unpublishedKey
      ? await this.makeKey(options.alg ?? 'ES256', false)
      : options.kid
        ? this.keyById(options.kid)
        : await this.currentKey(options.alg ?? 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const iat = options.issuedAt ?? now;
    const audience = options.audience === undefined ? this.audience : options.audience;
    const payload: Record<string, unknown> = {
      iss: options.issuer ?? this.issuer,
      ...(audience !== null && audience !== undefined && { aud: audience }),
      client_id: claims.sub,
      ...(options.jti !== null && { jti: options.jti ?? randomUUID() }),
      iat,
      ...(options.notBefore !== undefined && { nbf: relative(options.notBefore, now) }),
      exp: relative(options.expiresIn ?? '5m', now),
      ...claims,
    };
    const header = {
      alg: key.alg,
      kid: key.kid,
      ...(options.typ !== null && { typ: options.typ ?? 'at+jwt' }),
      ...options.header,
    };
    return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
  }

  /**
   * Publishes a new signing key for `alg` (default ES256) and signs with it from now on. The previous keys stay
   * published unless `retire` is set. Returns the new `kid`.
   */
  async rotate(options: { alg?: TestIdpAlgorithm; retire?: boolean } = {}): Promise<string> {
    const alg = options.alg ?? 'ES256';
    if (options.retire) for (const key of this.keys) if (key.alg === alg) key.published = false;
    const key = await this.makeKey(alg, true);
    this.current.set(alg, key.kid);
    return key.kid;
  }

  /** The SPKI PEM of a key's public half (default: the current ES256 key), e.g. for algorithm-confusion tests. */
  async publicKeyPem(kid?: string): Promise<string> {
    return exportSPKI((kid ? this.keyById(kid) : await this.currentKey('ES256')).publicKey);
  }

  /** The private key behind `kid` (default: the current ES256 key), to sign hand-made tokens with jose. */
  async signingKey(kid?: string): Promise<{ kid: string; alg: TestIdpAlgorithm; privateKey: CryptoKey }> {
    const key = kid ? this.keyById(kid) : await this.currentKey('ES256');
    return { kid: key.kid, alg: key.alg, privateKey: key.privateKey };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private metadata(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUri,
      token_endpoint: `${this.issuer}/token`,
      response_types_supported: ['code'],
      grant_types_supported: ['client_credentials'],
      code_challenge_methods_supported: ['S256'],
    };
  }

  private async currentKey(alg: TestIdpAlgorithm): Promise<KeyEntry> {
    const kid = this.current.get(alg);
    if (kid) return this.keyById(kid);
    await this.rotate({ alg });
    return this.keyById(this.current.get(alg)!);
  }

  private keyById(kid: string): KeyEntry {
    const key = this.keys.find((k) => k.kid === kid);
    if (!key) throw new Error(`TestIdp: no key ${kid}`);
    return key;
  }

  private async makeKey(alg: TestIdpAlgorithm, published: boolean): Promise<KeyEntry> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `${published ? 'key' : 'unpublished'}-${++this.keyCount}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const key = { kid, alg, privateKey, publicKey, publicJwk, published };
    this.keys.push(key);
    return key;
  }
}

/** Seconds from now as a NumericDate; strings use jose's duration syntax (`'5m'`, `'-10s'`, `'1h'`). */
function relative(value: string | number, now: number): number {
  if (typeof value === 'number') return now + value;
  const match = /^(-)?\s*(\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days)$/.exec(value.trim());
  if (!match) throw new Error(`TestIdp: cannot read duration "${value}"`);
  const unit = match[3][0] as 's' | 'm' | 'h' | 'd';
  const seconds = Number(match[2]) * { s: 1, m: 60, h: 3600, d: 86400 }[unit];
  return now + (match[1] ? -seconds : seconds);
}
