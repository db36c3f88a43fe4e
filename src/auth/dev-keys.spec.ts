import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { loadConfig } from '../config/app-config.js';
import { loadOrCreateDevKey, mintDevToken, parseTtl } from './dev-keys.js';

describe('dev keys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dev-auth-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes one ES256 key pair, private to the owner, and reuses it', async () => {
    const keyDir = join(dir, 'dev-auth');
    const [a, b] = await Promise.all([loadOrCreateDevKey(keyDir), loadOrCreateDevKey(keyDir)]);
    expect(a.kid).toBe(b.kid);
    expect((await loadOrCreateDevKey(keyDir)).kid).toBe(a.kid);
    expect((await stat(join(keyDir, 'signing-key.json'))).mode & 0o777).toBe(0o600);
    expect(a.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: a.kid });
    expect(a.publicJwk).not.toHaveProperty('d');
    expect(JSON.parse(await readFile(join(keyDir, 'signing-key.json'), 'utf8'))).toHaveProperty('d');
  });

  it('mints an RFC 9068 token for the resource that verifies with the public key', async () => {
    const config = loadConfig({ PUBLIC_URL: 'http://localhost:3000', DATA_DIR: dir });
    const key = await loadOrCreateDevKey(config.auth.devKeyDir);
    const token = await mintDevToken(config.auth, key, {
      agent: 'alice',
      scopes: ['tool:echo'],
      ttlSeconds: 900,
    });
    const { payload, protectedHeader } = await jwtVerify(
      token,
      createLocalJWKSet({ keys: [key.publicJwk] }),
      {
        issuer: 'http://localhost:3000/dev-auth',
        audience: 'http://localhost:3000/mcp',
        typ: 'at+jwt',
      },
    );
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: key.kid });
    expect(payload).toMatchObject({ sub: 'alice', scope: 'tool:echo', client_id: 'dev-cli' });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.jti).toEqual(expect.any(String));
  });
});

describe('parseTtl', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['1h', 3600],
    ['7d', 604800],
  ])('reads %s as %i seconds', (value, seconds) => {
    expect(parseTtl(value)).toBe(seconds);
  });

  it.each(['', '0', '-5m', '1y', '31d', 'soon'])('refuses %j', (value) => {
    expect(() => parseTtl(value)).toThrow(/invalid --ttl/);
  });
});
