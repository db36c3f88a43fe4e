/**
 * An external-IdP-style issuer the bench serves itself on loopback: OpenID discovery and a JWKS with one RS256
 * public key; `mint` signs RFC 9068 access tokens (`typ: at+jwt`) with the claims the service verifies.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

const KID = 'bench-rs256';

export class BenchIdp {
  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    private readonly privateKey: CryptoKey,
  ) {}

  get jwksUri(): string {
    return `${this.issuer}/jwks.json`;
  }

  static async start(): Promise<BenchIdp> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const documents: Record<string, unknown> = {
      '/.well-known/openid-configuration': {
        issuer,
        jwks_uri: `${issuer}/jwks.json`,
        id_token_signing_alg_values_supported: ['RS256'],
      },
      '/jwks.json': { keys: [jwk] },
    };
    server.on('request', (req, res) => {
      const body = documents[(req.url ?? '/').split('?')[0]];
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'not_found' }));
    });
    return new BenchIdp(server, issuer, privateKey);
  }

  /** An access token for `agent` (the `sub`, the service's default agent claim) on `audience`. */
  mint(agent: string, audience: string, scope: string, ttlSec = 7200): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope, client_id: 'bench-client' })
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(agent)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSec)
      .sign(this.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
