import { RevocationService } from '../../src/admission/revocation.service.js';
import { VerifiedTokenCache } from '../../src/auth/verified-token.cache.js';
import { AppConfig } from '../../src/config/app-config.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
const CALL = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hi' } },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string; exp: number };

function callEcho(app: TestApp, token: string) {
  return fetch(`${app.baseUrl}/mcp`, {
    method: 'POST',
    headers: { ...HEADERS, authorization: `Bearer ${token}` },
    body: JSON.stringify(CALL),
  });
}

/** A 401 invalid_token whose description says why (expired or not), and a body that never repeats the token. */
async function expectRefused(res: Response, token: string, expired = false): Promise<void> {
  const body = await res.text();
  expect(res.status).toBe(401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge.includes('expired')).toBe(expired);
  expect(body).not.toContain(token);
}

describe(`JWT verification cache (${databaseKind})`, () => {
  let app: TestApp;
  let cache: VerifiedTokenCache;
  let leeway: number;
  const AGENT = 'cache-agent';

  beforeAll(async () => {
    app = await startApp();
    cache = app.app.get(VerifiedTokenCache);
    leeway = app.app.get(AppConfig).auth.clockToleranceSec;
    await app.grant(AGENT, 'echo');
  });
  afterAll(() => app.close());

  const mint = (options: { expiresIn?: number; kid?: string } = {}) =>
    app.idp.mint(
      { sub: AGENT, [app.app.get(AppConfig).auth.agentClaim]: AGENT, scope: 'tool:echo' },
      options,
    );

  it('serves a repeated token from the cache, and refuses it on the very next request once revoked', async () => {
    const token = await mint();
    expect((await callEcho(app, token)).status).toBe(200); // verified, then cached
    const hits = cache.hits;
    expect((await callEcho(app, token)).status).toBe(200);
    expect(cache.hits).toBe(hits + 1);

    const { jti, exp } = claimsOf(token);
    await app.app.get(RevocationService).revoke({ jti, expiresAt: new Date(exp * 1000), reason: 'test' });
    // The verification is still cached (a hit), but the revocation list is read from the database every time.
    await expectRefused(await callEcho(app, token), token);
    expect(cache.hits).toBe(hits + 2);
    await expectRefused(await callEcho(app, token), token);
  });

  it('refuses a cached token as soon as it expires (exp + the same leeway), saying "expired"', async () => {
    const token = await mint({ expiresIn: -(leeway - 3) }); // expired, but within the leeway for ~3 s more
    const { exp } = claimsOf(token);
    expect((await callEcho(app, token)).status).toBe(200);
    const hits = cache.hits;
    expect((await callEcho(app, token)).status).toBe(200);
    expect(cache.hits).toBe(hits + 1);
    await sleep((exp + leeway) * 1000 - Date.now() + 50);
    await expectRefused(await callEcho(app, token), token, true);
    expect(cache.hits).toBe(hits + 1);
  });

  it('refuses a cached token whose key the IdP stopped publishing, as soon as the JWKS is read again', async () => {
    const old = await mint();
    expect((await callEcho(app, old)).status).toBe(200);
    const hits = cache.hits;
    expect((await callEcho(app, old)).status).toBe(200);
    expect(cache.hits).toBe(hits + 1);

    await app.idp.rotate({ retire: true });
    // A token with the new kid makes the server read the JWKS again (AUTH_JWKS_COOLDOWN_SEC=0 in tests).
    const fresh = await mint();
    expect((await callEcho(app, fresh)).status).toBe(200);
    // Found in the cache, but its key is no longer the one the JWKS holds for its kid: dropped, verified in full.
    await expectRefused(await callEcho(app, old), old);
    expect(cache.hits).toBe(hits + 2);
    await expectRefused(await callEcho(app, old), old);
    expect(cache.hits).toBe(hits + 2);
    expect((await callEcho(app, fresh)).status).toBe(200);
  });

  it('never caches a failed verification', async () => {
    const before = cache.size;
    const forged = (await mint()).replace(/.{4}$/, 'AAAA'); // bad signature
    await expectRefused(await callEcho(app, forged), forged);
    const otherAudience = await app.idp.mint(
      { sub: AGENT, scope: 'tool:echo' },
      { audience: 'https://other.example/mcp' },
    );
    await expectRefused(await callEcho(app, otherAudience), otherAudience);
    await expectRefused(await callEcho(app, otherAudience), otherAudience);
    expect(cache.size).toBe(before);
  });
});
