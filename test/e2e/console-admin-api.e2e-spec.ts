import { request } from 'node:http';
import { startApp, TEST_PUBLIC_URL, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';

/**
 * The server side of the admin console (issue #18), black-box over HTTP: the read-only operator scope
 * `mcp:admin:read` (reads yes, writes 403), `GET /admin/me`, the per-replica live summary
 * `GET /admin/metrics/summary`, the console's static assets with their CSP, and dev auth's one-click console token
 * (loopback and Host only; absent when an IdP is configured).
 */

const PRM = `${TEST_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const ADMIN_CHALLENGE = `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${PRM}"`;
const json = { 'content-type': 'application/json' };

describe(`admin console API (${databaseKind})`, () => {
  let app: TestApp;
  let admin: Record<string, string>;
  let reader: Record<string, string>;
  beforeAll(async () => {
    app = await startApp({ env: { ADMIN_CONSOLE_CLIENT_ID: 'mcp-console' } });
    admin = await app.bearer('ops-alice', ['mcp:admin']);
    reader = await app.bearer('ops-rita', ['mcp:admin:read']);
    await app.grant('agent-1', 'echo');
  });
  afterAll(() => app.close());

  const get = (path: string, headers: Record<string, string>) => fetch(`${app.baseUrl}${path}`, { headers });

  describe('the read-only scope mcp:admin:read', () => {
    it.each([
      '/admin/grants',
      '/admin/grants?agentId=agent-1&active=true',
      '/admin/token-revocations',
      '/admin/tools',
      '/admin/tools/disabled',
      '/admin/audit?limit=5',
      '/admin/audit/export?kind=admin',
      '/admin/me',
      '/admin/metrics/summary',
    ])('reads %s', async (path) => {
      const res = await get(path, reader);
      expect(res.status).toBe(200);
    });

    it('is refused every write with 403 insufficient_scope, and nothing changes', async () => {
      const before = (await (await get('/admin/grants', admin)).json()) as { id: string }[];
      const writes: [string, string, unknown?][] = [
        ['POST', '/admin/grants', { agentId: 'agent-2', toolName: 'echo' }],
        ['DELETE', `/admin/grants/${before[0].id}`],
        ['POST', '/admin/token-revocations', { jti: 'some-jti', reason: 'read-only tries' }],
        ['POST', '/admin/tools/echo/disable', { reason: 'read-only tries' }],
        ['POST', '/admin/tools/echo/enable', {}],
      ];
      for (const [method, path, body] of writes) {
        const res = await fetch(`${app.baseUrl}${path}`, {
          method,
          headers: { ...reader, ...(body !== undefined && json) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect({ method, path, status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
          method,
          path,
          status: 403,
          challenge: ADMIN_CHALLENGE,
        });
      }
      expect(await (await get('/admin/grants', admin)).json()).toEqual(before);
      expect(await (await get('/admin/token-revocations', admin)).json()).toEqual([]);
      expect(await (await get('/admin/tools/disabled', admin)).json()).toEqual([]);
    });

    it('is no admin scope for anything else: a token with neither scope gets 403 on reads too', async () => {
      const agent = await app.bearer('agent-1', ['tool:echo']);
      const res = await get('/admin/grants', agent);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(ADMIN_CHALLENGE);
    });

    it('is advertised in the protected resource metadata', async () => {
      const doc = (await (await fetch(PRM.replace(TEST_PUBLIC_URL, app.baseUrl))).json()) as {
        scopes_supported: string[];
      };
      expect(doc.scopes_supported).toEqual(expect.arrayContaining(['mcp:admin', 'mcp:admin:read']));
    });
  });

  it('GET /admin/me tells the console who signed in and whether they may change things', async () => {
    expect(await (await get('/admin/me', admin)).json()).toEqual({
      agentId: 'ops-alice',
      scopes: ['mcp:admin'],
      canWrite: true,
    });
    expect(await (await get('/admin/me', reader)).json()).toEqual({
      agentId: 'ops-rita',
      scopes: ['mcp:admin:read'],
      canWrite: false,
    });
    expect((await fetch(`${app.baseUrl}/admin/me`)).status).toBe(401);
  });

  it("GET /admin/metrics/summary summarises this replica's calls, errors, latency and denials per tool", async () => {
    const client = await connectClient(app.mcpUrl, await app.bearer('agent-1', ['tool:echo']));
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'echo', arguments: { text: `hi ${i}` } });
    await client.callTool({ name: 'echo', arguments: { text: 42 } }); // invalid arguments: an error
    await client.close();
    // Scope granted but no grant: a denial.
    const denied = await connectClient(app.mcpUrl, await app.bearer('agent-9', ['tool:echo']));
    await denied.callTool({ name: 'echo', arguments: { text: 'no grant' } }).catch(() => undefined);
    await denied.close();

    const summary = (await (await get('/admin/metrics/summary', reader)).json()) as Summary;
    expect(summary.scope).toBe('replica');
    expect(summary.replica).toEqual({
      hostname: expect.any(String),
      pid: expect.any(Number),
      startedAt: expect.any(String),
    });
    expect(summary.intervalSeconds).toBeGreaterThan(0);
    const echo = summary.tools.find((t) => t.tool === 'echo');
    expect(echo?.totals).toEqual({ calls: 5, errors: 1, denials: 1 });
    // The calls may fall into one sampling interval or two.
    const points = echo!.points;
    const calls = points.reduce((sum, p) => sum + p.callsPerSecond * p.seconds, 0);
    expect(calls).toBeCloseTo(5, 1);
    expect(points.some((p) => p.errorRate! > 0)).toBe(true);
    expect(points.some((p) => p.denialsPerSecond > 0)).toBe(true);
    expect(points.some((p) => p.p50Ms! > 0 && p.p99Ms! >= p.p50Ms!)).toBe(true);
  });

  describe('static console at /admin/console/', () => {
    it('serves the page with a strict CSP: self, plus the IdP origin for its token endpoint', async () => {
      const res = await fetch(`${app.baseUrl}/admin/console/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp.split('; ')).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "script-src 'self'",
          "style-src 'self'",
          `connect-src 'self' ${new URL(app.idp.issuer).origin}`,
          "frame-ancestors 'none'",
          "base-uri 'none'",
          "object-src 'none'",
        ]),
      );
      expect(csp).not.toContain('unsafe');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('set-cookie')).toBeNull();
      const html = await res.text();
      // No inline script or style: every <script> has a src, and there is no <style> or style="".
      expect(html).toMatch(/<script type="module" src="[^"]+"><\/script>/);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/i);
    });

    it('redirects /admin/console to /admin/console/ and serves its modules as JavaScript', async () => {
      const res = await fetch(`${app.baseUrl}/admin/console`, { redirect: 'manual' });
      expect([301, 302, 308]).toContain(res.status);
      expect(res.headers.get('location')).toBe('/admin/console/');
      const js = await fetch(`${app.baseUrl}/admin/console/app.js`);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
    });

    it('tells the console how to sign in: OAuth code + PKCE against AUTH_ISSUER as a public client', async () => {
      const res = await fetch(`${app.baseUrl}/admin/console/config.json`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        signIn: 'oauth',
        issuer: app.idp.issuer,
        clientId: 'mcp-console',
        scope: 'mcp:admin mcp:admin:read',
        resource: `${TEST_PUBLIC_URL}/mcp`,
        redirectUri: `${TEST_PUBLIC_URL}/admin/console/`,
      });
    });

    it('has no one-click dev token when an IdP is configured', async () => {
      const res = await fetch(`${app.baseUrl}/dev-auth/console-token`, { method: 'POST' });
      expect(res.status).toBe(404);
    });
  });
});

describe(`admin console with dev auth (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    // No AUTH_ISSUER: dev auth.
    app = await startApp({ env: { AUTH_ISSUER: '', AUTH_JWKS_URI: '' } });
  });
  afterAll(() => app.close());

  const mint = (headers: Record<string, string> = {}, method = 'POST') =>
    fetch(`${app.baseUrl}/dev-auth/console-token`, { method, headers });

  it('mints a one-click admin token for a loopback client, which the admin API accepts', async () => {
    const config = await (await fetch(`${app.baseUrl}/admin/console/config.json`)).json();
    expect(config).toEqual({ signIn: 'dev' });
    const res = await mint({ origin: app.baseUrl });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'mcp:admin',
    });
    const me = await fetch(`${app.baseUrl}/admin/me`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(await me.json()).toEqual({ agentId: 'dev-admin', scopes: ['mcp:admin'], canWrite: true });
  });

  it('refuses a Host that is not a loopback name (DNS rebinding) and a foreign Origin', async () => {
    // fetch cannot send another Host: node:http can.
    const host = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${app.baseUrl}/dev-auth/console-token`,
        { method: 'POST', headers: { host: 'attacker.example' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(host.status).toBe(403);
    expect(JSON.parse(host.body)).toMatchObject({ code: 'FORBIDDEN_HOST' });
    const origin = await mint({ origin: 'http://attacker.example' });
    expect(origin.status).toBe(403);
    expect(await origin.json()).toMatchObject({ code: 'FORBIDDEN_ORIGIN' });
  });

  it('answers POST only', async () => {
    expect((await mint({}, 'GET')).status).toBe(404);
  });

  it('connects the console to nothing but itself', async () => {
    const res = await fetch(`${app.baseUrl}/admin/console/`);
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self';");
  });
});

interface Summary {
  scope: string;
  replica: { hostname: string; pid: number; startedAt: string };
  intervalSeconds: number;
  tools: {
    tool: string;
    totals: { calls: number; errors: number; denials: number };
    points: {
      at: string;
      seconds: number;
      callsPerSecond: number;
      errorRate: number | null;
      denialsPerSecond: number;
      p50Ms: number | null;
      p99Ms: number | null;
    }[];
  }[];
}
