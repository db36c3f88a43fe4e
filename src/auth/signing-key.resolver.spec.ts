import { KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, exportSPKI, generateKeyPair } from 'jose';
import type { PinoLogger } from 'nestjs-pino';
import { loadConfig, type AppConfig } from '../config/app-config.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import type { DevAuthService } from './dev-auth.service.js';
import { loadOrCreateDevKey, type DevSigningKey } from './dev-keys.js';
import { discoveryUrls, SigningKeyResolver, typeAllowed } from './signing-key.resolver.js';

const logger = { setContext: () => {}, info: () => {}, warn: () => {} } as unknown as PinoLogger;

describe('SigningKeyResolver (dev key)', () => {
  let dir: string;
  let config: AppConfig;
  let key: DevSigningKey;
  let resolver: SigningKeyResolver;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'resolver-'));
    config = loadConfig({ PUBLIC_URL: 'http://localhost:3000', DATA_DIR: dir });
    key = await loadOrCreateDevKey(config.auth.devKeyDir);
    resolver = new SigningKeyResolver(config, { key } as DevAuthService, logger);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const sign = (header: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
    new SignJWT({ iss: config.auth.issuer, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header })
      .sign(key.privateKey);

  async function reason(token: string): Promise<string> {
    const error = await resolver.keyFor(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenRejectedError);
    return (error as TokenRejectedError).reason;
  }

  it('returns the public key for a token of the configured issuer', async () => {
    const found = await resolver.keyFor(await sign({}));
    expect(found).toBeInstanceOf(KeyObject);
    expect(found.type).toBe('public');
  });

  it('rejects alg none and HS256 before looking for a key', async () => {
    expect(await reason(new UnsecuredJWT({ iss: config.auth.issuer }).encode())).toBe('algorithm');
    const secret = new TextEncoder().encode(await exportSPKI((await generateKeyPair('ES256')).publicKey));
    const hs = await new SignJWT({ iss: config.auth.issuer })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret);
    expect(await reason(hs)).toBe('algorithm');
  });

  it('rejects another issuer (byte for byte), a wrong typ, a crit header and an unknown kid', async () => {
    expect(await reason(await sign({}, { iss: `${config.auth.issuer}/` }))).toBe('issuer');
    expect(await reason(await sign({ typ: 'JWT' }))).toBe('typ');
    expect(await reason(await sign({ crit: ['b64'], b64: true }))).toBe('crit');
    expect(await reason(await sign({ kid: 'nope' }))).toBe('no matching key');
  });

  it('rejects what is not a compact JWS', async () => {
    expect(await reason('not.a.jwt')).toBe('malformed');
    expect(await reason('a.b.c.d.e')).toBe('malformed');
    expect(await reason('')).toBe('malformed');
  });
});

describe('SigningKeyResolver (external IdP)', () => {
  it('never fetches for a foreign issuer, and reports an unreachable IdP as unavailable', async () => {
    const config = loadConfig({ AUTH_ISSUER: 'http://127.0.0.1:1' });
    const resolver = new SigningKeyResolver(config, {} as DevAuthService, logger);
    const { privateKey } = await generateKeyPair('ES256');
    const token = (iss: string) =>
      new SignJWT({ iss }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    await expect(resolver.keyFor(await token('http://evil.example'))).rejects.toBeInstanceOf(
      TokenRejectedError,
    );
    await expect(resolver.keyFor(await token('http://127.0.0.1:1'))).rejects.toBeInstanceOf(
      AuthUnavailableError,
    );
  });
});

describe('typeAllowed', () => {
  it('requires at+jwt (any case, optional application/ prefix) when AUTH_REQUIRE_AT_JWT is on', () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) expect(typeAllowed(typ, true)).toBe(true);
    for (const typ of ['JWT', undefined, 'jwt', 'secevent+jwt', 42])
      expect(typeAllowed(typ, true)).toBe(false);
  });

  it('also accepts JWT or no typ when relaxed, but never another explicit type', () => {
    for (const typ of ['at+jwt', 'JWT', 'application/jwt', undefined])
      expect(typeAllowed(typ, false)).toBe(true);
    for (const typ of ['logout+jwt', 'JOSE', '']) expect(typeAllowed(typ, false)).toBe(false);
  });
});

describe('discoveryUrls', () => {
  it('tries OpenID discovery, then RFC 8414 with path insertion', () => {
    expect(discoveryUrls('https://tenant.auth0.com/')).toEqual([
      'https://tenant.auth0.com/.well-known/openid-configuration',
      'https://tenant.auth0.com/.well-known/oauth-authorization-server',
    ]);
    expect(discoveryUrls('https://kc.example.com/realms/mcp')).toEqual([
      'https://kc.example.com/realms/mcp/.well-known/openid-configuration',
      'https://kc.example.com/.well-known/oauth-authorization-server/realms/mcp',
    ]);
  });
});
