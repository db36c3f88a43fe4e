import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { McpServerFactory } from '../../src/mcp/mcp-server.factory.js';
import { SessionRegistry } from '../../src/mcp/session-registry.service.js';
import { startApp, TEST_PUBLIC_URL, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const AGENT = 'e2e-agent';
/** `tool:no.such-tool` so that the unknown-tool test reaches the MCP layer instead of the scope guard. */
const SCOPES = ['tool:echo', 'tool:no.such-tool'];

/** Each app's bearer header (every request to /mcp is authenticated). */
const auth = new WeakMap<TestApp, Record<string, string>>();

async function startAuthorizedApp(options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp(options);
  auth.set(app, await app.bearer(AGENT, SCOPES));
  await app.grant(AGENT, 'echo');
  return app;
}

function post(app: TestApp, body: unknown, headers: Record<string, string> = {}) {
  return fetch(app.mcpUrl, {
    method: 'POST',
    headers: { ...HEADERS, ...auth.get(app), ...headers },
    body: JSON.stringify(body),
  });
}

const connect = (app: TestApp) => connectClient(app.mcpUrl, auth.get(app));

describe(`MCP endpoint, stateless (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startAuthorizedApp();
  });
  afterAll(() => app.close());

  it('serves the SDK client: initialize, tools/list, tools/call echo', async () => {
    const client = await connect(app);
    expect(client.getServerVersion()).toMatchObject({ name: 'mcp-production' });

    const { tools } = await client.listTools();
    const echo = tools.find((t) => t.name === 'echo');
    expect(echo).toMatchObject({
      inputSchema: { type: 'object', required: ['text'] },
      outputSchema: { type: 'object' },
      annotations: { idempotentHint: true },
    });

    const result = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ text: 'hello' });
    await client.close();
  });

  it('answers concurrent requests on one shared server, each under its own JSON-RPC id', async () => {
    const factory = app.app.get(McpServerFactory);
    const create = factory.create.bind(factory);
    let created = 0;
    factory.create = () => (created++, create());
    try {
      // Every client numbers its requests from the same start: the ids collide inside the server unless mapped.
      const texts = Array.from({ length: 24 }, (_v, i) => `text-${i}`);
      const idOf = (i: number) => (i % 2 ? 7 : 'seven');
      const answers = await Promise.all(
        texts.map(async (text, i) => {
          const res = await post(app, {
            jsonrpc: '2.0',
            id: idOf(i),
            method: 'tools/call',
            params: { name: 'echo', arguments: { text } },
          });
          return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
        }),
      );
      answers.forEach((answer, i) =>
        expect(answer).toEqual({
          status: 200,
          type: 'application/json',
          body: expect.objectContaining({
            jsonrpc: '2.0',
            id: idOf(i),
            result: expect.objectContaining({ structuredContent: { text: texts[i] } }),
          }) as unknown,
        }),
      );
      const list = await post(app, { jsonrpc: '2.0', id: 'l', method: 'tools/list' });
      expect(await list.json()).toMatchObject({ id: 'l', result: { tools: [{ name: 'echo' }] } });
      expect(created).toBe(0); // no per-request SDK server
    } finally {
      factory.create = create;
    }
  });

  it("leaves to the SDK transport what the shared server does not take, with the transport's answers", async () => {
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x' } },
    };
    expect((await post(app, call, { accept: 'application/json' })).status).toBe(406);
    expect((await post(app, call, { 'mcp-protocol-version': '1999-01-01' })).status).toBe(400);
    expect((await post(app, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    // A progress token asks for a stream: the answer comes as SSE.
    const progress = await post(app, { ...call, params: { ...call.params, _meta: { progressToken: 'p' } } });
    expect(progress.headers.get('content-type')).toBe('text/event-stream');
    expect(await progress.text()).toContain('"structuredContent":{"text":"x"}');
  });

  it('answers invalid arguments with a tool error the model can act on', async () => {
    const client = await connect(app);
    const result = await client.callTool({ name: 'echo', arguments: { text: 42 } });
    expect(result.isError).toBe(true);
    expect(toolError(result)).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      message: expect.stringContaining('text'),
    });
    await client.close();
  });

  it('answers an unknown tool with JSON-RPC invalid params', async () => {
    const client = await connect(app);
    const call = client.callTool({ name: 'no.such-tool', arguments: {} });
    await expect(call).rejects.toBeInstanceOf(McpError);
    await expect(call).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
    await client.close();
  });

  it('rejects a foreign Origin or Host with 403 before anything else (DNS rebinding)', async () => {
    const byOrigin = await post(app, INIT, { origin: 'http://evil.example' });
    expect(byOrigin.status).toBe(403);
    expect(await byOrigin.json()).toMatchObject({
      jsonrpc: '2.0',
      error: { data: { code: 'FORBIDDEN_ORIGIN' } },
    });
    // fetch does not let us set Host; the guard's unit test covers it, and this checks the wiring with node:http.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        app.mcpUrl,
        { method: 'POST', headers: { ...HEADERS, host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    expect(status).toBe(403);
  });

  it('accepts its own origin', async () => {
    const res = await post(app, INIT, { origin: 'http://localhost:3000' });
    // Test apps run with PUBLIC_URL=TEST_PUBLIC_URL: its origin is the only one allowed.
    expect(res.status).toBe(403);
    const own = await post(app, INIT, { origin: TEST_PUBLIC_URL });
    expect(own.status).toBe(200);
  });

  it('honours x-request-id and rejects oversized bodies with 413', async () => {
    const res = await post(app, INIT, { 'x-request-id': 'trace-abc.123' });
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    const big = await post(app, { ...INIT, params: { ...INIT.params, pad: 'x'.repeat(2 * 1024 * 1024) } });
    expect(big.status).toBe(413);
  });

  it('answers malformed JSON with 400 and a JSON-RPC error', async () => {
    // Authenticated: without a token the body is never read (401 first).
    const res = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: { ...HEADERS, ...auth.get(app) },
      body: '{"jsonrpc": "2.0", ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
  });

  it('refuses GET and DELETE in stateless mode with 405', async () => {
    const res = await fetch(app.mcpUrl, { headers: { accept: 'text/event-stream', ...auth.get(app) } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe(`MCP endpoint, stateful sessions (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startAuthorizedApp({ env: { MCP_SESSION_MAX: '3' } });
  });
  afterAll(() => app.close());

  it('keeps a session across requests and serves tools in it', async () => {
    const client = await connect(app);
    const transport = client.transport as { sessionId?: string };
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(
      (await client.callTool({ name: 'echo', arguments: { text: 'in session' } })).structuredContent,
    ).toEqual({
      text: 'in session',
    });
    await client.close();
  });

  it('answers an unknown session id with 404', async () => {
    const res = await post(
      app,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': '00000000-0000-0000-0000-000000000000' },
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { data: { code: 'SESSION_NOT_FOUND' } } });
  });

  it('serves a request without a session id statelessly, next to sessions (MCP_ERA=dual)', async () => {
    await openSession();
    const res = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    expect(((await res.json()) as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(0);
  });

  async function openSession(): Promise<string> {
    const res = await post(app, INIT);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    return res.headers.get('mcp-session-id')!;
  }

  function listIn(sessionId: string) {
    return post(
      app,
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    );
  }

  it('expires idle sessions (404 afterwards) and sweeps them', async () => {
    const idle = await startAuthorizedApp({
      env: { MCP_SESSION_IDLE_TIMEOUT_MS: '1000' },
    });
    try {
      const open = () => post(idle, INIT).then((r) => r.headers.get('mcp-session-id')!);
      const list = (id: string) =>
        post(
          idle,
          { jsonrpc: '2.0', id: 3, method: 'tools/list' },
          { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        );
      const [used, unused] = [await open(), await open()];
      expect((await list(used)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1300));
      expect((await list(used)).status).toBe(404);
      expect((await list(unused)).status).toBe(404);
      // The periodic sweep (every idle/2) has closed the live transports and deleted the rows by now.
      await idle.app.get(SessionRegistry).sweep();
      expect(idle.app.get(SessionRegistry).size).toBe(0);
    } finally {
      await idle.close();
    }
  });

  it('closes the least recently used session at the cap', async () => {
    const ids = [await openSession(), await openSession(), await openSession()];
    expect((await listIn(ids[0])).status).toBe(200); // ids[1] is now the least recently used
    await openSession();
    expect((await listIn(ids[1])).status).toBe(404);
    expect((await listIn(ids[0])).status).toBe(200);
    expect(app.app.get(SessionRegistry).size).toBeLessThanOrEqual(3);
  });

  it('ends a session on DELETE', async () => {
    const id = await openSession();
    const res = await fetch(app.mcpUrl, {
      method: 'DELETE',
      headers: { 'mcp-session-id': id, ...auth.get(app) },
    });
    expect(res.status).toBe(200);
    expect((await listIn(id)).status).toBe(404);
  });
});
