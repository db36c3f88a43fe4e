import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/**
 * The request view's protocol checks over real HTTP (SECURITY.md F4, F5 and the check order of G): a 2026-07-28
 * request whose headers contradict its body is refused (400) after authentication (401 first) and before scopes,
 * grants and rate limits, so a header can never authorise a body, and the refused call never runs.
 */

const V = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const AGENT = 'view-agent';

interface Answer {
  status: number;
  body: { id?: unknown; result?: { structuredContent?: unknown }; error?: { code: number; data?: unknown } };
}

/** A tools/call of counter.increment: modern when `meta` is given, 2025 otherwise. */
const increment = (id: number, meta?: object) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'counter.increment', arguments: { name: 'f5' }, ...(meta && { _meta: meta }) },
});

describe(`request view: 2026-07-28 header checks in the guard order (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,counter' } });
    await app.grant(AGENT, 'echo');
    await app.grant(AGENT, 'counter.increment');
  });
  afterAll(() => app.close());

  async function post(body: unknown, headers: Record<string, string>): Promise<Answer> {
    const response = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: { ...JSON_HEADERS, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    // A call may be answered as an event stream: its last data line is the answer.
    const json = response.headers.get('content-type')?.startsWith('text/event-stream')
      ? text
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .pop()!
          .slice(5)
      : text;
    return { status: response.status, body: JSON.parse(json) as Answer['body'] };
  }

  const modern = (name: string, extra: Record<string, string> = {}) => ({
    'mcp-protocol-version': V,
    'mcp-method': 'tools/call',
    'mcp-name': name,
    ...extra,
  });

  it('answers 401 before any header check', async () => {
    const answer = await post(increment(1, META), modern('echo'));
    expect(answer.status).toBe(401);
  });

  it('F5: a token for other_tool, Mcp-Name other_tool, a body calling another tool → 400 -32020, not 403', async () => {
    const auth = await app.bearer(AGENT, ['tool:echo']);
    const answer = await post(increment(11, META), { ...auth, ...modern('echo') });
    expect(answer).toEqual({
      status: 400,
      body: {
        jsonrpc: '2.0',
        id: 11,
        error: expect.objectContaining({
          code: -32020,
          data: { header: 'Mcp-Name', problem: 'mismatch', field: 'params.name', code: 'HEADER_MISMATCH' },
        }) as unknown,
      },
    });
  });

  it('a refused call never runs: the next increment of the counter is its first', async () => {
    const auth = await app.bearer(AGENT, ['tool:counter.increment']);
    for (const headers of [modern('echo'), modern(`=?base64?${Buffer.from('echo').toString('base64')}?=`)]) {
      const refused = await post(increment(12, META), { ...auth, ...headers });
      expect(refused).toMatchObject({ status: 400, body: { error: { code: -32020 } } });
    }
    // A 2025 call (no envelope), through the same guards: the counter was never incremented before.
    const first = await post(increment(13), auth);
    expect(first).toMatchObject({ status: 200, body: { result: { structuredContent: { value: 1 } } } });
  });

  it('a conforming 2026-07-28 call passes the checks and runs', async () => {
    const auth = await app.bearer(AGENT, ['tool:counter.increment']);
    const answer = await post(increment(19, META), { ...auth, ...modern(' counter.increment ') });
    expect(answer).toMatchObject({
      status: 200,
      body: { id: 19, result: { structuredContent: { value: 2 } } },
    });
  });

  it('F4: an unsupported revision → 400 -32022 listing what this endpoint serves', async () => {
    const auth = await app.bearer(AGENT, ['tool:echo']);
    const future = { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
    const answer = await post(increment(14, future), {
      ...auth,
      ...modern('counter.increment', { 'mcp-protocol-version': '2099-01-01' }),
    });
    expect(answer).toMatchObject({
      status: 400,
      body: { id: 14, error: { code: -32022, data: { requested: '2099-01-01' } } },
    });
    // What server/discover lists; a 2025 client learns its versions from initialize.
    expect((answer.body.error?.data as { supported: string[] }).supported).toEqual([V]);
  });

  it('a missing envelope key → 400 -32602', async () => {
    const auth = await app.bearer(AGENT, ['tool:counter.increment']);
    const meta = { 'io.modelcontextprotocol/protocolVersion': V };
    const answer = await post(increment(15, meta), { ...auth, ...modern('counter.increment') });
    expect(answer).toMatchObject({ status: 400, body: { id: 15, error: { code: -32602 } } });
  });

  it('2025 traffic keeps its scope answers through the view: one call, and a batch', async () => {
    const auth = await app.bearer(AGENT, ['tool:echo']);
    expect((await post(increment(16), auth)).status).toBe(403);
    const echo = { jsonrpc: '2.0', id: 17, method: 'tools/call', params: { name: 'echo', arguments: {} } };
    const batch = await post([echo, increment(18)], { ...auth, 'mcp-protocol-version': '2025-03-26' });
    expect(batch.status).toBe(403);
  });
});
