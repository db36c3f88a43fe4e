import { request, type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { Lifecycle } from '../../src/health/lifecycle.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { TestIdp } from '../utils/idp.js';
import { ERAS, onWire, type Era } from '../utils/mcp-eras.js';

/**
 * Issue #15, black-box over real HTTP (plain sockets and `fetch`, no SDK client), so a protocol rewrite can re-run
 * it unchanged:
 * - class 2: guards decide on the route the router matched, never on the raw URL (aliases of `/mcp`);
 * - class 6: bounded header, body and keep-alive timeouts that never cut a long event stream (heartbeats);
 * - class 9: JSON-RPC batches refused from protocol 2025-06-18 on; every 503 carries `Retry-After` and, on the
 *   MCP route, a JSON-RPC error body.
 * Issue #16: every case that sends an MCP request runs in both protocol eras: `legacy` sends it as before (a
 * stateless 2025 request), `modern` the same request in the 2026-07-28 `_meta` envelope with its standard headers.
 */

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
/** Aliases of `POST /mcp` an attacker may try: each must be refused by the guards or match no route at all. */
const ALIASES = ['/%6Dcp', '/m%63p', '//mcp', '/mcp/', '/MCP', '/mcp;x', '/mcp?x'];
const EVIL: Record<string, string>[] = [{ origin: 'http://evil.example' }, { host: 'evil.example' }];
const TIMEOUTS = {
  HTTP_HEADERS_TIMEOUT_MS: '2000',
  HTTP_BODY_TIMEOUT_MS: '3000',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: '1500',
  MCP_SSE_HEARTBEAT_MS: '500',
};
const AGENT = 'http-agent';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One HTTP request with the exact path and headers given (fetch would normalise both). */
function send(
  app: TestApp,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: unknown },
): Promise<Answer> {
  const { port } = new URL(app.baseUrl);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/mcp',
        headers: { ...(body !== undefined && JSON_HEADERS), ...options.headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function jsonOf(answer: Answer): Record<string, unknown> {
  return JSON.parse(answer.text) as Record<string, unknown>;
}

const call = (name: string, id: number | string = 1, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});
const echo = (id: number | string = 1) => call('echo', id, { text: 'hi' });

/** `request` as `era` sends it: the body, and the headers it needs besides `extra` (auth, Origin, …). */
function asEra(era: Era, request: Parameters<typeof onWire>[1], extra: Record<string, string> = {}) {
  const wire = onWire(era, request);
  return { body: wire.body, headers: { ...wire.headers, ...extra } };
}

/** A raw TCP connection to the app, with what it has received and when it closed. */
function connect(app: TestApp): Promise<{
  socket: net.Socket;
  received: () => string;
  closed: Promise<number>;
}> {
  const { port } = new URL(app.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let data = '';
    const started = Date.now();
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => undefined); // a reset is a close here
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many connections the app's HTTP server holds (has accepted). */
function accepted(app: TestApp): Promise<number> {
  return new Promise((resolve, reject) =>
    app.app.getHttpServer().getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** Waits (bounded, 5 s) until `done()` resolves true. */
async function until(done: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await done()) && waited < 5000; waited += 10) await sleep(10);
}

/** Writes `text` one byte at a time, `everyMs` apart, until done or the socket closes. */
async function trickle(socket: net.Socket, text: string, everyMs: number): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(byte);
    await sleep(everyMs);
  }
}

function expectJsonRpcError(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(jsonOf(answer)).toMatchObject({ jsonrpc: '2.0', id: null, error: { data: { code } } });
}

function expectRetryAfter(answer: Answer): void {
  expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe(`HTTP hardening, stateless (${databaseKind})`, () => {
  let app: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,testing', ...TIMEOUTS } });
    auth = await app.bearer(AGENT, ['tool:echo']);
    await app.grant(AGENT, 'echo');
  });
  afterAll(() => app.close());

  describe.each(ERAS)(
    'class 2, %s requests: guards decide on the matched route, never on the raw URL',
    (era) => {
      it.each(ALIASES)(
        'an evil Origin or Host on POST %s is refused (403) or routed nowhere (404)',
        async (path) => {
          for (const evil of EVIL) {
            const answer = await send(app, { path, ...asEra(era, echo(), { ...auth, ...evil }) });
            expect([403, 404]).toContain(answer.status);
            if (answer.status === 403) {
              expect(jsonOf(answer)).toMatchObject({
                jsonrpc: '2.0',
                error: { data: { code: 'host' in evil ? 'FORBIDDEN_HOST' : 'FORBIDDEN_ORIGIN' } },
              });
            }
          }
        },
      );

      it('the aliases the router matches reach the MCP endpoint (the test above is not vacuous)', async () => {
        const reached: string[] = [];
        for (const path of ALIASES) {
          const answer = await send(app, { path, ...asEra(era, echo(), auth) });
          expect([200, 404]).toContain(answer.status);
          if (answer.status === 200) {
            reached.push(path);
            expect(answer.text).toContain('"structuredContent":{"text":"hi"}');
          }
        }
        expect(reached).toContain('/mcp?x');
      });

      it('errors on an alias of /mcp carry the JSON-RPC envelope, like /mcp', async () => {
        for (const path of ['/mcp', '/%6Dcp', '/m%63p', '/mcp?x']) {
          expectJsonRpcError(await send(app, { path, ...asEra(era, echo()) }), 401, 'UNAUTHENTICATED');
        }
      });

      it.each(ALIASES)('the scope guard cannot be skipped through %s', async (path) => {
        const noScope = await app.bearer(AGENT, []);
        const answer = await send(app, { path, ...asEra(era, echo(), noScope) });
        expect([403, 404]).toContain(answer.status);
        if (answer.status === 403) expectJsonRpcError(answer, 403, 'INSUFFICIENT_SCOPE');
      });

      it('the rate limiter cannot be skipped through an alias of /mcp', async () => {
        // `testing.limited` allows 3 calls per agent per minute (an agent per era: each gets its own 3).
        const agent = `http-limited-${era}`;
        await app.grant(agent, 'testing.limited');
        const limited = await app.bearer(agent, ['tool:testing.limited']);
        const statuses: number[] = [];
        for (const path of [...ALIASES, ...ALIASES]) {
          const answer = await send(app, { path, ...asEra(era, call('testing.limited'), limited) });
          statuses.push(answer.status);
          if (answer.status === 429) expectRetryAfter(answer);
        }
        expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
        expect(statuses).toContain(429);
        expect(statuses.every((s) => [200, 404, 429].includes(s))).toBe(true);
      });
    },
  );

  describe('class 9: JSON-RPC batches', () => {
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...echo(2) }];

    it.each(['2025-11-25', '2025-06-18'])(
      'are refused under MCP-Protocol-Version %s with -32600',
      async (version) => {
        const answer = await send(app, {
          headers: { ...auth, 'mcp-protocol-version': version },
          body: batch,
        });
        expectJsonRpcError(answer, 400, 'INVALID_REQUEST');
        expect(jsonOf(answer)).toMatchObject({ error: { code: -32600 } });
      },
    );

    it.each([
      ['MCP-Protocol-Version 2025-03-26', '2025-03-26'],
      ['no MCP-Protocol-Version (meaning 2025-03-26)', undefined],
    ])('are still served with %s, which had batches', async (_label, version) => {
      const answer = await send(app, {
        headers: { ...auth, ...(version && { 'mcp-protocol-version': version }) },
        body: batch,
      });
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('"tools"');
      expect(answer.text).toContain('"structuredContent":{"text":"hi"}');
    });

    it('of 2026-07-28 requests are refused with -32600 (that revision has no batches)', async () => {
      const modern = batch.map((message) => asEra('modern', message));
      const answer = await send(app, {
        headers: { ...auth, 'mcp-protocol-version': '2026-07-28' },
        body: modern.map((m) => m.body),
      });
      expect(answer.status).toBe(400);
      expect(jsonOf(answer)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
      expect(answer.text).not.toContain('structuredContent');
    });
  });

  describe('class 6: bounded header, body and keep-alive timeouts', () => {
    // Legacy answers a call that asked for progress with an event stream at once; modern must not leave a slow
    // call silent either (an idle proxy would cut it before its result).
    it.each(ERAS)('sends heartbeats on a slow call that asked for progress (%s)', async (era) => {
      await app.grant(AGENT, 'testing.slow');
      const slow = await app.bearer(AGENT, ['tool:testing.slow']);
      const request = call('testing.slow', 'slow-1', { key: `heartbeat-${era}`, ms: 900 });
      const answer = await send(app, {
        ...asEra(era, { ...request, params: { ...request.params, _meta: { progressToken: 'p' } } }, slow),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('text/event-stream');
      expect(answer.text).toMatch(/^: ?\w+/m); // MCP_SSE_HEARTBEAT_MS=500: one comment line at least
      expect(answer.text).toContain('"id":"slow-1"');
    });

    it.each(ERAS)('cuts a client that trickles its body at HTTP_BODY_TIMEOUT_MS (%s)', async (era) => {
      const { socket, received, closed } = await connect(app);
      const request = asEra(era, echo());
      const body = JSON.stringify(request.body).padEnd(60, ' ');
      const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(
        `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nAuthorization: ${auth.authorization}\r\n` +
          `${headers.join('')}Content-Length: ${body.length}\r\n\r\n`,
      );
      const writing = trickle(socket, body, 1000); // would take a minute
      const closedAfter = await Promise.race([closed, sleep(9000).then(() => Infinity)]);
      socket.destroy();
      await writing;
      expect(closedAfter).toBeGreaterThanOrEqual(2500);
      expect(closedAfter).toBeLessThan(6000);
      expect(received()).toMatch(/^HTTP\/1\.1 408/);
    });

    // Header timeouts and keep-alive act before any body is read, so before any era is known: once is enough.
    it('cuts a client that trickles its headers at HTTP_HEADERS_TIMEOUT_MS', async () => {
      const { socket, received, closed } = await connect(app);
      const writing = trickle(
        socket,
        `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'x'.repeat(60)}`,
        250,
      );
      const closedAfter = await Promise.race([closed, sleep(9000).then(() => Infinity)]);
      socket.destroy();
      await writing;
      expect(closedAfter).toBeGreaterThanOrEqual(1500);
      expect(closedAfter).toBeLessThan(4500);
      expect(received()).toMatch(/^HTTP\/1\.1 408/);
    });

    it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
      const { socket, received, closed } = await connect(app);
      socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      while (!received().includes('\r\n\r\n')) await sleep(20);
      const answered = Date.now();
      const closedAt = await Promise.race([closed.then(() => Date.now()), sleep(6000).then(() => Infinity)]);
      socket.destroy();
      expect(received()).toMatch(/^HTTP\/1\.1 200/);
      expect(closedAt - answered).toBeGreaterThanOrEqual(1000);
      expect(closedAt - answered).toBeLessThan(4000);
    });
  });

  describe('class 9: every 503 carries Retry-After (and a JSON-RPC body on the MCP route)', () => {
    it('readiness while draining', async () => {
      app.app.get(Lifecycle).beginDrain();
      const answer = await send(app, { method: 'GET', path: '/health/ready' });
      expect(answer.status).toBe(503);
      expectRetryAfter(answer);
    });

    it('a request that arrives while the server closes: 503 SHUTTING_DOWN on /mcp (both eras) and elsewhere', async () => {
      // Requests already on the wire when the listener closes (their connections are not idle, so not closed).
      const onMcp: Awaited<ReturnType<typeof connect>>[] = [];
      for (let i = 0; i < ERAS.length; i++) onMcp.push(await connect(app)); // one by one: each accepted in turn
      const elsewhere = await connect(app);
      for (const { socket } of onMcp) socket.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      elsewhere.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // Connected is not yet accepted: a connection still in the listen backlog when the listener closes is reset.
      await until(async () => (await accepted(app)) >= onMcp.length + 1);
      const stopping = app.stop();
      while (app.app.getHttpServer().listening) await sleep(10);
      for (const [i, era] of ERAS.entries()) {
        const request = asEra(era, echo());
        const body = JSON.stringify(request.body);
        const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}\r\n`);
        onMcp[i].socket.write(
          `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
            `Authorization: ${auth.authorization}\r\n${headers.join('')}` +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
        );
      }
      elsewhere.socket.write('\r\n');
      await Promise.all([...onMcp.map((c) => c.closed), elsewhere.closed]);
      await stopping;

      for (const connection of onMcp) {
        const mcp = parseResponse(connection.received());
        expectJsonRpcError(mcp, 503, 'SHUTTING_DOWN');
        expectRetryAfter(mcp);
      }
      const other = parseResponse(elsewhere.received());
      expect(other.status).toBe(503);
      expectRetryAfter(other);
      expect(jsonOf(other)).toMatchObject({ statusCode: 503, code: 'SHUTTING_DOWN' });
    });
  });
});

/** A complete HTTP/1.1 response as read from a socket (no chunked bodies: our error answers have a length). */
function parseResponse(raw: string): Answer {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: IncomingHttpHeaders = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, text: rest.join('\r\n\r\n') };
}

/** A request whose response stays open: its status and type once they arrive, what it received so far. */
function openStream(app: TestApp, method: string, headers: Record<string, string>, body?: unknown) {
  const { port } = new URL(app.baseUrl);
  let text = '';
  let ended = false;
  const req = request({ host: '127.0.0.1', port, method, path: '/mcp', headers, agent: false });
  const response = new Promise<{ status?: number; type?: string }>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('close', () => (ended = true));
      resolve({ status: res.statusCode, type: res.headers['content-type'] });
    });
    req.on('error', reject);
  });
  req.end(body === undefined ? undefined : JSON.stringify(body));
  return { response, text: () => text, ended: () => ended, destroy: () => req.destroy() };
}

/** Sessions are a 2025 (legacy) thing; the modern cases check that 2026-07-28 requests stay out of them. */
describe(`HTTP hardening, stateful sessions (${databaseKind})`, () => {
  let app: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    app = await startApp({ env: { ...TIMEOUTS } });
    auth = await app.bearer(AGENT, ['tool:echo']);
    await app.grant(AGENT, 'echo');
  });
  afterAll(() => app.close());

  /** A session opened with `version`, initialized; returns its id. */
  async function openSession(version: string): Promise<string> {
    const init = await send(app, {
      headers: auth,
      body: {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      },
    });
    expect(init.status).toBe(200);
    const session = String(init.headers['mcp-session-id']);
    const initialized = await send(app, {
      headers: { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': version },
      body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    });
    expect(initialized.status).toBe(202);
    return session;
  }

  it('refuses a batch in a 2025-11-25 session with -32600, and serves one in a 2025-03-26 session', async () => {
    const batch = [echo(1), echo(2)];
    const modern = await openSession('2025-11-25');
    const refused = await send(app, {
      headers: { ...auth, 'mcp-session-id': modern, 'mcp-protocol-version': '2025-11-25' },
      body: batch,
    });
    expectJsonRpcError(refused, 400, 'INVALID_REQUEST');
    expect(jsonOf(refused)).toMatchObject({ error: { code: -32600 } });

    const legacy = await openSession('2025-03-26');
    const served = await send(app, {
      headers: { ...auth, 'mcp-session-id': legacy, 'mcp-protocol-version': '2025-03-26' },
      body: batch,
    });
    expect(served.status).toBe(200);
    expect(served.text.match(/"structuredContent":\{"text":"hi"\}/g)).toHaveLength(2);
  });

  it.each(ERAS)(
    'keeps a long-lived event stream open past the body timeout, with heartbeats (%s)',
    async (era) => {
      // Legacy: a session's GET stream. Modern (no sessions, no GET): a subscriptions/listen POST.
      const listen = onWire('modern', {
        id: 'listen-1',
        method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true } },
      });
      const stream =
        era === 'legacy'
          ? openStream(app, 'GET', {
              ...auth,
              accept: 'text/event-stream',
              'mcp-session-id': await openSession('2025-11-25'),
              'mcp-protocol-version': '2025-11-25',
            })
          : openStream(app, 'POST', { ...JSON_HEADERS, ...auth, ...listen.headers }, listen.body);
      const { status, type } = await stream.response;
      await sleep(5000); // longer than HTTP_BODY_TIMEOUT_MS (3 s) and HTTP_KEEP_ALIVE_TIMEOUT_MS (1.5 s)
      stream.destroy();
      expect(status).toBe(200);
      expect(type).toBe('text/event-stream');
      expect(stream.ended()).toBe(false);
      // MCP_SSE_HEARTBEAT_MS=500: about ten comment lines in 5 s.
      expect((stream.text().match(/^:.*$/gm) ?? []).length).toBeGreaterThanOrEqual(5);
    },
  );

  it('answers GET /mcp without a session with 405 (2026-07-28 has no GET stream)', async () => {
    const answer = await send(app, {
      method: 'GET',
      headers: { ...auth, accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' },
    });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
    expect(jsonOf(answer)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
  });

  it('serves a 2026-07-28 POST sessionless even with a live session id: the header is ignored, none minted', async () => {
    const session = await openSession('2025-11-25');
    const answer = await send(app, {
      ...asEra('modern', echo(9), { ...auth, 'mcp-session-id': session, 'last-event-id': '1' }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['mcp-session-id']).toBeUndefined();
    expect(answer.text).toContain('"structuredContent":{"text":"hi"}');
    // Not in the session either: an unknown session id is no 404 for a modern request.
    const unknown = await send(app, {
      ...asEra('modern', echo(10), { ...auth, 'mcp-session-id': 'no-such-session' }),
    });
    expect(unknown.status).toBe(200);
  });
});

describe(`HTTP hardening, 503 answers of unavailable dependencies (${databaseKind})`, () => {
  it('AUTH_UNAVAILABLE: Retry-After, and a JSON-RPC body on /mcp', async () => {
    const idp = await TestIdp.start({ discovery: 'none' });
    const app = await startApp({ idp, env: { AUTH_JWKS_URI: '' } });
    try {
      const auth = await app.bearer(AGENT, ['tool:echo']);
      for (const era of ERAS) {
        for (const path of ['/mcp', '/%6Dcp']) {
          const answer = await send(app, { path, ...asEra(era, echo(7), auth) });
          expectJsonRpcError(answer, 503, 'AUTH_UNAVAILABLE');
          expectRetryAfter(answer);
        }
      }
      const admin = await send(app, { method: 'GET', path: '/admin/grants', headers: auth });
      expect(admin.status).toBe(503);
      expectRetryAfter(admin);
      expect(jsonOf(admin)).toMatchObject({ statusCode: 503, code: 'AUTH_UNAVAILABLE' });
    } finally {
      await app.close();
      await idp.close();
    }
  });

  it('RATE_LIMIT_UNAVAILABLE: Retry-After, and a JSON-RPC body on /mcp', async () => {
    const app = await startApp({
      env: { REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_REDIS_FAILURE: 'closed' },
    });
    try {
      await app.grant(AGENT, 'echo');
      const auth = await app.bearer(AGENT, ['tool:echo']);
      for (const era of ERAS) {
        const answer = await send(app, { path: '/m%63p', ...asEra(era, echo(), auth) });
        expectJsonRpcError(answer, 503, 'RATE_LIMIT_UNAVAILABLE');
        expectRetryAfter(answer);
      }
    } finally {
      await app.close();
    }
  });
});
