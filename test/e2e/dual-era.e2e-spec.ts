import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { McpServerFactory, SERVER_INFO } from '../../src/mcp/mcp-server.factory.js';
import { startApp, TEST_PUBLIC_URL, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { toolError } from '../utils/mcp-client.js';
import {
  answerOf,
  connectEra,
  ERAS,
  LEGACY_VERSION,
  MODERN_VERSION,
  onWire,
  sampled,
  textOf,
  type Era,
  type EraClient,
  spreadFetch,
  type Progress,
  type Sent,
} from '../utils/mcp-eras.js';

/**
 * Issue #16: one endpoint in its default configuration (`MCP_ERA=dual`) serves the SDK v2 client on 2026-07-28
 * and the SDK 1.x client on 2025-11-25 alike: a tool call, input-required elicitation and sampling (each round
 * audited, linked by a flow id), progress, logs, per-agent lists and the 401/403 challenges.
 */
const ELICIT = 'test_input_required_result_elicitation';
const SAMPLE = 'test_input_required_result_sampling';
const PROGRESS = 'test_tool_with_progress';
const LOGGING = 'test_logging_tool';
const TOOLS = ['echo', ELICIT, SAMPLE, PROGRESS, LOGGING];
const SCOPES = TOOLS.map((tool) => `tool:${tool}`);
const VERSION: Record<Era, string> = { modern: MODERN_VERSION, legacy: LEGACY_VERSION };
const PRM = `${TEST_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const LOG_LINES = ['Tool execution started', 'Tool processing data', 'Tool execution completed'];

describe(`one endpoint, both eras, default configuration (${databaseKind})`, () => {
  let app: TestApp;
  let admin: Record<string, string>;

  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,conformance' } });
    admin = await app.bearer('era-auditor', ['mcp:admin']);
    for (const era of ERAS) for (const tool of TOOLS) await app.grant(agentOf(era), tool);
  });
  afterAll(() => app?.close());

  const agentOf = (era: Era) => `era-${era}`;

  /** Raw POST /mcp of one request as `era` sends it. */
  async function post(era: Era, request: Parameters<typeof onWire>[1], headers: Record<string, string>) {
    const wire = onWire(era, request);
    return fetch(app.mcpUrl, {
      method: 'POST',
      headers: { ...BASE_HEADERS, ...wire.headers, ...headers },
      body: JSON.stringify(wire.body),
    });
  }

  /** The audit rows of `agent`'s calls of `tool`, oldest first (via the admin API). */
  async function auditOf(agent: string, tool: string): Promise<AuditEventView[]> {
    const res = await fetch(
      `${app.baseUrl}/admin/audit?agent=${encodeURIComponent(agent)}&tool=${encodeURIComponent(tool)}`,
      { headers: admin },
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: AuditEventView[] }).items.reverse();
  }

  describe.each(ERAS)('%s client', (era) => {
    let client: EraClient;
    let sent: Sent[];
    beforeAll(async () => {
      const recorder = spreadFetch([app.mcpUrl]);
      sent = recorder.sent;
      client = await connectEra(era, app.mcpUrl, {
        headers: await app.bearer(agentOf(era), SCOPES),
        fetch: recorder.fetch,
      });
    });
    afterAll(() => client?.close());

    it(`negotiates its era's protocol version`, () => {
      expect(client.protocolVersion()).toBe(VERSION[era]);
    });

    it('calls a tool (echo)', async () => {
      const result = await client.callTool('echo', { text: `hello ${era}` });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ text: `hello ${era}` });
      const [row] = await auditOf(agentOf(era), 'echo');
      expect(row).toMatchObject({ outcome: 'success', protocolVersion: VERSION[era], flowId: null });
    });

    it('asks the user (elicitation) and gets the answer back; each round audited under one flow id', async () => {
      client.asked.length = 0;
      sent.length = 0;
      const result = await client.callTool(ELICIT);
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe('Hello, Ada!');
      expect(client.asked).toEqual(['What is your name?']);
      expectOneFlow(await auditOf(agentOf(era), ELICIT), era);
      expectRoundTrip(sent, era);
    });

    it(`asks the client's LLM (sampling) and gets the answer back; each round audited under one flow id`, async () => {
      client.asked.length = 0;
      sent.length = 0;
      const result = await client.callTool(SAMPLE);
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe(`LLM response: ${sampled('What is the capital of France?')}`);
      expect(client.asked).toEqual(['What is the capital of France?']);
      expectOneFlow(await auditOf(agentOf(era), SAMPLE), era);
      expectRoundTrip(sent, era);
    });

    it('asks nothing of a client that did not declare the capability: a clear refusal instead', async () => {
      const plain = await connectEra(era, app.mcpUrl, {
        headers: await app.bearer(agentOf(era), SCOPES),
        capable: false,
      });
      try {
        if (era === 'modern') {
          // 2026-07-28: a protocol error naming what the request's envelope lacks (-32021).
          await expect(plain.callTool(ELICIT)).rejects.toMatchObject({
            code: -32021,
            data: { requiredCapabilities: { elicitation: expect.any(Object) } },
          });
        } else {
          const result = await plain.callTool(ELICIT);
          expect(result.isError).toBe(true);
          expect(toolError(result)).toMatchObject({ code: 'CLIENT_UNSUPPORTED' });
        }
      } finally {
        await plain.close();
      }
    });

    it('delivers progress notifications on the call', async () => {
      const progress: Progress[] = [];
      const result = await client.callTool(PROGRESS, {}, { onprogress: (p) => void progress.push(p) });
      expect(textOf(result)).toBe('Tool with progress executed successfully');
      expect(progress.map((p) => [p.progress, p.total])).toEqual([
        [0, 100],
        [50, 100],
        [100, 100],
      ]);
    });

    it('delivers log messages at the level asked for', async () => {
      client.logs.length = 0;
      await client.callTool(LOGGING, {}, { logLevel: 'info' });
      expect(client.logs).toEqual(LOG_LINES.map((data) => ({ level: 'info', data })));
      client.logs.length = 0;
      await client.callTool(LOGGING, {}, { logLevel: 'warning' });
      expect(client.logs).toEqual([]);
    });

    if (era === 'modern') {
      it('sends no log message to a request that asked for no log level', async () => {
        client.logs.length = 0;
        const result = await client.callTool(LOGGING);
        expect(textOf(result)).toBe('Logging tool executed successfully');
        expect(client.logs).toEqual([]);
      });
    }

    it('lists per agent: an agent sees the tools it is granted, not what another is', async () => {
      const narrowAgent = `era-narrow-${era}`;
      await app.grant(narrowAgent, 'echo');
      const narrow = await connectEra(era, app.mcpUrl, { headers: await app.bearer(narrowAgent, SCOPES) });
      try {
        expect((await client.listTools()).sort()).toEqual([...TOOLS].sort());
        expect(await narrow.listTools()).toEqual(['echo']);
      } finally {
        await narrow.close();
      }
    });

    it('challenges a request without a token: 401 with the resource metadata, before the era is decided', async () => {
      const res = await post(era, call('echo', { text: 'x' }), {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${PRM}"`);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
      // The SDK client surfaces it as an authentication failure at connect time.
      await expect(connectEra(era, app.mcpUrl)).rejects.toThrow(/401|nauthori[sz]ed|authentication/i);
    });

    it('challenges a call without its tool scope: 403 insufficient_scope naming the scope', async () => {
      const headers = await app.bearer(
        agentOf(era),
        SCOPES.filter((s) => s !== 'tool:echo'),
      );
      const res = await post(era, call('echo', { text: 'x' }), headers);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="tool:echo", resource_metadata="${PRM}"`,
      );
      expect(await res.json()).toMatchObject({ error: { data: { code: 'INSUFFICIENT_SCOPE' } } });
      // Through the SDK client: connecting works (no tool scope needed), the call is refused.
      const scoped = await connectEra(era, app.mcpUrl, { headers });
      try {
        await expect(scoped.callTool('echo', { text: 'x' })).rejects.toThrow(/403|insufficient.scope/i);
      } finally {
        await scoped.close();
      }
    });
  });

  it('serves a 2026-07-28 request and a 2025 stateless request side by side (raw HTTP)', async () => {
    for (const era of ERAS) {
      const res = await post(era, call('echo', { text: era }, 7), await app.bearer(agentOf(era), SCOPES));
      expect(res.status).toBe(200);
      expect(res.headers.get('mcp-session-id')).toBeNull();
      const { result } = answerOf(res.headers.get('content-type'), await res.text(), 7);
      expect(result).toMatchObject({ structuredContent: { text: era } });
      if (era === 'modern') expect(result).toMatchObject({ resultType: 'complete' });
    }
  });
  it('answers plain 2026-07-28 calls on one shared server: own ids, own envelopes, no server per request', async () => {
    const factory = app.app.get(McpServerFactory);
    const create = factory.create.bind(factory);
    let created = 0;
    factory.create = (options) => (created++, create(options));
    const headers = await app.bearer(agentOf('modern'), SCOPES);
    const send = async (request: Parameters<typeof onWire>[1], capabilities?: Record<string, unknown>) => {
      const wire = onWire('modern', request, { capabilities });
      const res = await fetch(app.mcpUrl, {
        method: 'POST',
        headers: { ...BASE_HEADERS, ...wire.headers, ...headers },
        body: JSON.stringify(wire.body),
      });
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        body: await res.json(),
      };
    };
    try {
      // Clients number their requests alike, and each request's envelope is its own: concurrently, one client
      // that can answer an elicitation gets asked, one that cannot is refused (-32021, HTTP 400 as from the SDK).
      const texts = Array.from({ length: 16 }, (_v, i) => `text-${i}`);
      const [echoes, asked, refused, list] = await Promise.all([
        Promise.all(texts.map((text) => send(call('echo', { text }, 7)))),
        send(call(ELICIT, {}, 7), { elicitation: { form: {} } }),
        send(call(ELICIT, {}, 7)),
        send({ id: 'l', method: 'tools/list' }),
      ]);
      echoes.forEach((echo, i) =>
        expect(echo).toEqual({
          status: 200,
          type: 'application/json',
          body: {
            jsonrpc: '2.0',
            id: 7,
            result: expect.objectContaining({
              resultType: 'complete',
              structuredContent: { text: texts[i] },
              _meta: expect.objectContaining({ 'io.modelcontextprotocol/serverInfo': SERVER_INFO }),
            }) as unknown,
          },
        }),
      );
      expect(asked).toMatchObject({ status: 200, body: { id: 7, result: { resultType: 'input_required' } } });
      expect(refused).toMatchObject({ status: 400, body: { id: 7, error: { code: -32021 } } });
      expect(list).toMatchObject({ status: 200, body: { id: 'l', result: { resultType: 'complete' } } });
      expect(created).toBe(0);
    } finally {
      factory.create = create;
    }
  });
});

const call = (name: string, args: Record<string, unknown>, id = 1) => ({
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** Two rounds (asked, answered), one flow id, the era's protocol version on each. */
function expectOneFlow(rows: AuditEventView[], era: Era): void {
  expect(rows.map((r) => r.outcome)).toEqual(['input_required', 'success']);
  const [first, second] = rows;
  expect(first.flowId).toMatch(/^[0-9a-f-]{36}$/);
  expect(second.flowId).toBe(first.flowId);
  expect(rows.map((r) => r.protocolVersion)).toEqual([VERSION[era], VERSION[era]]);
}

/**
 * How the answer travelled. Modern: the call POSTed twice, sessionless, the retry carrying the answers and state.
 * Legacy: one call in a session, the answer POSTed back in it as a JSON-RPC response (a server→client request).
 */
function expectRoundTrip(sent: Sent[], era: Era): void {
  const calls = sent.filter((s) => s.method === 'tools/call');
  if (era === 'modern') {
    expect(calls.map((s) => s.retry)).toEqual([false, true]);
    expect(sent.every((s) => s.http === 'POST' && s.session === null)).toBe(true);
  } else {
    expect(calls.map((s) => s.retry)).toEqual([false]);
    expect(calls[0].session).toEqual(expect.any(String));
    expect(sent).toContainEqual(
      expect.objectContaining({ http: 'POST', method: undefined, session: calls[0].session }),
    );
  }
}
