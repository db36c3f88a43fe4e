import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { jest } from '@jest/globals';
import { SignJWT } from 'jose';
import { VerifiedTokenCache } from '../../src/auth/verified-token.cache.js';
import { startApp, TEST_PUBLIC_URL, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/**
 * Issue #15, the auth half, black-box (plain HTTP against a started app, so a protocol rewrite re-runs it as is):
 * - class 9: `iat` is required (RFC 9068 §2.2) and may not lie in the future beyond the clock tolerance;
 * - class 3: text PostgreSQL cannot store (NUL, lone UTF-16 surrogates) in a claim used as an identifier;
 * - class 6: a request without a valid bearer token is refused before its body is read (a trickling client);
 * - class 7: known keys keep working while the IdP is down past the old 10-minute key lifetime (fake clock).
 */

const PRM = `${TEST_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const NO_CREDENTIALS = `Bearer resource_metadata="${PRM}"`;
const INVALID = `Bearer error="invalid_token", error_description="The access token is invalid", resource_metadata="${PRM}"`;
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'hardening-auth', version: '1' },
  },
};

function post(app: TestApp, headers: Record<string, string> = {}, body: unknown = INIT) {
  return fetch(`${app.baseUrl}/mcp`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: JSON.stringify(body),
  });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function expectInvalidToken(res: Response, label: string): Promise<void> {
  const body = await res.text();
  expect({ label, status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
    label,
    status: 401,
    challenge: INVALID,
  });
  expect(JSON.parse(body)).toMatchObject({
    jsonrpc: '2.0',
    error: { code: -32000, data: { code: 'INVALID_TOKEN' } },
    id: null,
  });
}

describe(`hardening: token claims (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  /** A token of the app's IdP with exactly these claims (no defaults: `iat` only when given). */
  async function handMade(claims: Record<string, unknown>): Promise<string> {
    const { kid, alg, privateKey } = await app.idp.signingKey();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: app.idp.issuer,
      aud: app.idp.audience,
      sub: 'iat-agent',
      client_id: 'iat-client',
      jti: randomUUID(),
      exp: now + 300,
      ...claims,
    })
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .sign(privateKey);
  }

  it('accepts a token issued now or slightly ahead (within AUTH_CLOCK_TOLERANCE_SEC)', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await post(app, bearer(await handMade({ iat: now })))).status).toBe(200);
    expect((await post(app, bearer(await handMade({ iat: now + 10 })))).status).toBe(200);
  });

  it('refuses a token without iat, with a non-numeric iat, or issued in the future beyond the tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(await post(app, bearer(await handMade({}))), 'no iat');
    await expectInvalidToken(await post(app, bearer(await handMade({ iat: String(now) }))), 'string iat');
    await expectInvalidToken(await post(app, bearer(await handMade({ iat: now + 120 }))), 'iat + 120 s');
    await expectInvalidToken(await post(app, bearer(await handMade({ iat: now + 86400 }))), 'iat + 1 day');
  });

  // Text no PostgreSQL text/jsonb column can hold: such an identifier could never be stored, audited or revoked.
  const BAD_TEXT = { nul: 'x\u0000y', 'lone high surrogate': 'x\ud800', 'lone low surrogate': '\udc00x' };

  it('refuses NUL or a lone surrogate in the agent id, jti or client id with 401 invalid_token', async () => {
    for (const [what, text] of Object.entries(BAD_TEXT)) {
      await expectInvalidToken(await post(app, bearer(await app.idp.mint({ sub: text }))), `sub: ${what}`);
      await expectInvalidToken(
        await post(app, bearer(await app.idp.mint({ sub: 'ok-agent' }, { jti: text }))),
        `jti: ${what}`,
      );
      await expectInvalidToken(
        await post(app, bearer(await app.idp.mint({ sub: 'ok-agent', client_id: text }))),
        `client_id: ${what}`,
      );
    }
  });

  it('refuses NUL or a lone surrogate in a scope (string or array claim) with 401 invalid_token', async () => {
    for (const [what, text] of Object.entries(BAD_TEXT)) {
      await expectInvalidToken(
        await post(app, bearer(await app.idp.mint({ sub: 'ok-agent', scope: `tool:echo tool:${text}` }))),
        `scope string: ${what}`,
      );
      await expectInvalidToken(
        await post(app, bearer(await app.idp.mint({ sub: 'ok-agent', scp: ['tool:echo', text] }))),
        `scp array: ${what}`,
      );
    }
  });

  it('still accepts well-formed non-ASCII identifiers (astral characters are surrogate pairs)', async () => {
    const token = await app.idp.mint({ sub: 'agent-é-😀', client_id: 'client-ü', scope: 'tool:echo' });
    expect((await post(app, bearer(token))).status).toBe(200);
  });
});

/** A raw HTTP/1.1 request whose body trickles in one byte per `intervalMs`, to see when the server answers. */
async function trickle(
  app: TestApp,
  headers: Record<string, string>,
  options: { body: string; intervalMs: number; maxBytes: number; path?: string },
): Promise<{ status: number; head: string; body: string; sentBytes: number; ms: number }> {
  const { port } = new URL(app.baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let data = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      const lines = [
        `POST ${options.path ?? '/mcp'} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        ...Object.entries({ ...HEADERS, ...headers }).map(([name, value]) => `${name}: ${value}`),
        `Content-Length: ${Buffer.byteLength(options.body)}`,
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      const next = () => {
        if (sent >= Math.min(options.maxBytes, options.body.length)) return;
        socket.write(options.body[sent++]);
        timer = setTimeout(next, options.intervalMs);
      };
      timer = setTimeout(next, options.intervalMs);
    });
    const finish = () => {
      clearTimeout(timer);
      const at = data.indexOf('\r\n\r\n');
      const head = at === -1 ? data : data.slice(0, at);
      // Enough of the answer to judge it: the status line, headers and (non-chunked) body.
      resolve({
        status: Number(head.split(' ')[1]) || 0,
        head,
        body: at === -1 ? '' : data.slice(at + 4),
        sentBytes: sent,
        ms: performance.now() - started,
      });
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
      const at = data.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(data.slice(0, at))?.[1];
      if (at !== -1 && length !== undefined && data.length - at - 4 >= Number(length)) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    // Bounded: give up (and report what arrived) after maxBytes intervals and a little more.
    setTimeout(finish, options.intervalMs * (options.maxBytes + 2));
  });
}

const header = (head: string, name: string) =>
  new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1]?.trim() ?? null;

describe(`hardening: authentication before the body (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  const body = JSON.stringify(INIT); // ~170 bytes: 170 s at 1 byte/s
  const slow = { body, intervalMs: 1000, maxBytes: 4 };

  it('answers a request without a token 401 (the usual challenge and body) before its body arrives', async () => {
    const res = await trickle(app, {}, slow);
    expect(res.status).toBe(401);
    expect(res.sentBytes).toBeLessThan(body.length);
    expect(res.ms).toBeLessThan(2500);
    expect(header(res.head, 'www-authenticate')).toBe(NO_CREDENTIALS);
    expect(JSON.parse(res.body)).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32000, data: { code: 'UNAUTHENTICATED' } },
      id: null,
    });
  });

  it('answers an invalid token 401 invalid_token before the body arrives', async () => {
    for (const token of ['not.a.jwt', await app.idp.mint({ sub: 'x' }, { unpublishedKey: true })]) {
      const res = await trickle(app, bearer(token), slow);
      expect(res.status).toBe(401);
      expect(res.sentBytes).toBeLessThan(body.length);
      expect(header(res.head, 'www-authenticate')).toBe(INVALID);
      expect(JSON.parse(res.body)).toMatchObject({ error: { data: { code: 'INVALID_TOKEN' } } });
    }
  });

  it('does the same on every protected route, not only /mcp (admin routes, a route with a parameter)', async () => {
    for (const path of ['/admin/grants', '/admin/tools/echo/disable']) {
      const res = await trickle(app, {}, { ...slow, path });
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.sentBytes).toBeLessThan(body.length);
      expect(header(res.head, 'www-authenticate')).toBe(NO_CREDENTIALS);
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' });
    }
  });

  it('keeps the check order: a foreign Origin without a token is still 403 first, also before the body', async () => {
    const res = await trickle(app, { origin: 'https://evil.example' }, slow);
    expect(res.status).toBe(403);
    expect(res.sentBytes).toBeLessThan(body.length);
    expect(header(res.head, 'www-authenticate')).toBeNull();
    expect(JSON.parse(res.body)).toMatchObject({ error: { data: { code: 'FORBIDDEN_ORIGIN' } } });
  });

  it('with a valid token, waits for the body and serves the request normally', async () => {
    const auth = await app.bearer('trickler', []);
    const { port } = new URL(app.baseUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      [
        'POST /mcp HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        ...Object.entries({ ...HEADERS, ...auth }).map(([name, value]) => `${name}: ${value}`),
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body.slice(0, 10),
      ].join('\r\n'),
    );
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(data).toBe(''); // authenticated: the server waits for the rest of the body
    socket.write(body.slice(10));
    await new Promise((resolve) => socket.once('end', resolve));
    expect(data.split(' ')[1]).toBe('200');
    expect(data).toContain('"protocolVersion":"2025-11-25"');
  });

  it('verifies a token once per request (the hook hands the principal to the guard)', async () => {
    const cache = app.app.get(VerifiedTokenCache);
    const auth = await app.bearer('once', []);
    const hits = cache.hits;
    expect((await post(app, auth)).status).toBe(200);
    expect(cache.hits - hits).toBe(0); // the first use: verified in full, and not looked up again
    expect((await post(app, auth)).status).toBe(200);
    expect(cache.hits - hits).toBe(1); // the second: one cache lookup, not two
  });

  it('leaves public routes public, even with a bad token, and unknown routes 404', async () => {
    for (const path of [
      '/health/live',
      '/metrics',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
      '/docs',
    ]) {
      for (const headers of [{}, { authorization: 'Bearer garbage' }] as Record<string, string>[]) {
        const res = await fetch(`${app.baseUrl}${path}`, { headers });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      }
    }
    const unknown = await fetch(`${app.baseUrl}/nope`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
  });
});

describe(`hardening: dev auth's public JWKS (${databaseKind})`, () => {
  it('stays public', async () => {
    const app = await startApp({ env: { AUTH_ISSUER: '', AUTH_JWKS_URI: '' } });
    try {
      const res = await fetch(`${app.baseUrl}/dev-auth/jwks.json`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ keys: [expect.objectContaining({ kty: 'EC' })] });
    } finally {
      await app.close();
    }
  });
});

describe(`hardening: IdP outage (fake clock, ${databaseKind})`, () => {
  const T0 = Date.UTC(2030, 0, 1);
  afterEach(() => jest.useRealTimers());

  it('keeps serving tokens of known keys while the IdP is down past 10 minutes, until the stale limit', async () => {
    // Only Date is faked: sockets, timers and the database run for real.
    jest.useFakeTimers({
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
      now: T0,
    });
    const app = await startApp({ env: { AUTH_JWKS_COOLDOWN_SEC: '30', AUTH_JWKS_STALE_MAX_SEC: '86400' } });
    try {
      const token = async () => bearer(await app.idp.mint({ sub: 'outage' }, { expiresIn: '1h' }));
      expect((await post(app, await token())).status).toBe(200);
      await app.idp.close(); // connection refused from now on
      for (const elapsed of [11 * 60_000, 3 * 3600_000, 23 * 3600_000]) {
        jest.setSystemTime(T0 + elapsed);
        expect({ elapsed, status: (await post(app, await token())).status }).toEqual({
          elapsed,
          status: 200,
        });
      }
      jest.setSystemTime(T0 + 25 * 3600_000);
      const res = await post(app, await token());
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { data: { code: 'AUTH_UNAVAILABLE' } } });
    } finally {
      await app.close();
    }
  });
});
