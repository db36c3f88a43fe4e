import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TestingTools } from '../../src/tool-modules/testing/testing.tools.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';
import { ERAS, onWire } from '../utils/mcp-eras.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const TESTING_TOOLS = [
  'testing.flaky',
  'testing.transient',
  'testing.unsafe',
  'testing.slow',
  'testing.limited',
];

/** A raw `tools/call` over HTTP (no SDK), so that tests see the HTTP status and headers. */
function callOverHttp(app: TestApp, auth: Record<string, string>, name: string, args: unknown = {}) {
  return fetch(app.mcpUrl, {
    method: 'POST',
    headers: { ...HEADERS, ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
}

/** A fresh agent with scope and grant for `tools`. */
async function agent(app: TestApp, tools: string[]): Promise<{ id: string; auth: Record<string, string> }> {
  const id = `agent-${randomUUID()}`;
  for (const tool of tools) await app.grant(id, tool);
  return {
    id,
    auth: await app.bearer(
      id,
      tools.map((t) => `tool:${t}`),
    ),
  };
}

async function auditRows(app: TestApp, agentId: string) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return app.app.get(DataSource).query<
    {
      kind: string;
      outcome: string;
      error_code: string | null;
      tool_name: string | null;
      detail: unknown;
    }[]
  >(`SELECT kind, outcome, error_code, tool_name, detail FROM audit_event WHERE agent_id = $1 ORDER BY id`, [agentId]);
}

async function metricsText(app: TestApp): Promise<string> {
  return (await fetch(`${app.baseUrl}/metrics`)).text();
}

describe(`Resilience: rate limits in memory (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,testing', RATE_LIMIT_AGENT_PER_MINUTE: '5' } });
  });
  afterAll(() => app.close());

  describe('rate limits', () => {
    it('lets exactly N calls per agent through, then answers 429 with Retry-After, audited and counted', async () => {
      const alice = await agent(app, ['echo']);
      for (let i = 1; i <= 5; i++) {
        const ok = await callOverHttp(app, alice.auth, 'echo', { text: `call ${i}` });
        expect(ok.status).toBe(200);
        await ok.body?.cancel();
      }
      const refused = await callOverHttp(app, alice.auth, 'echo', { text: 'one too many' });
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await refused.json()).toMatchObject({
        jsonrpc: '2.0',
        error: {
          code: -32000,
          data: { code: 'RATE_LIMITED', limit: 'agent', perMinute: 5, retryAfterSeconds: retryAfter },
        },
      });

      // Another agent has its own budget.
      const bob = await agent(app, ['echo']);
      expect((await callOverHttp(app, bob.auth, 'echo', { text: 'hi' })).status).toBe(200);

      expect(await auditRows(app, alice.id)).toContainEqual(
        expect.objectContaining({
          kind: 'denied',
          outcome: 'rate_limited',
          error_code: 'RATE_LIMITED',
          tool_name: 'echo',
        }),
      );
      expect(await metricsText(app)).toMatch(/mcp_rate_limited_total\{limit="agent"\} [1-9]/);
    });

    it('applies a tool decorator limit per agent and tool, leaving the agent free to call other tools', async () => {
      const carol = await agent(app, ['testing.limited', 'echo']);
      for (let i = 0; i < 3; i++)
        expect((await callOverHttp(app, carol.auth, 'testing.limited')).status).toBe(200);
      const refused = await callOverHttp(app, carol.auth, 'testing.limited');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await refused.json()).toMatchObject({
        error: { data: { code: 'RATE_LIMITED', limit: 'tool', tool: 'testing.limited', perMinute: 3 } },
      });
      // The 4th call counted against the agent limit (5) too; one more call of another tool still fits.
      expect((await callOverHttp(app, carol.auth, 'echo', { text: 'still fine' })).status).toBe(200);
    });

    it('counts resource reads and prompt gets against the agent limit, and no other requests', async () => {
      const dave = await agent(app, ['echo']);
      const client = await connectClient(app.mcpUrl, dave.auth); // initialize + notifications
      for (let i = 0; i < 6; i++) await client.listTools(); // not counted
      // Counted whatever their answer (no such resource or prompt here): 4 of the 5 calls a minute.
      for (let i = 0; i < 2; i++) {
        await expect(client.readResource({ uri: 'test://nothing' })).rejects.toMatchObject({ code: -32602 });
        await expect(client.getPrompt({ name: 'nothing' })).rejects.toMatchObject({ code: -32602 });
      }
      expect((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).isError).toBeFalsy();
      await expect(client.readResource({ uri: 'test://nothing' })).rejects.toThrow(/RATE_LIMITED/);
      expect(await auditRows(app, dave.id)).toContainEqual(
        expect.objectContaining({
          kind: 'denied',
          outcome: 'rate_limited',
          tool_name: 'resource:test://nothing',
        }),
      );
      await client.close();
    });
  });
});

describe(`Resilience: breakers, retries, timeouts, kill switch (${databaseKind})`, () => {
  let app: TestApp;
  let fixtures: TestingTools;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,testing' } });
    fixtures = app.app.get(TestingTools);
  });
  afterAll(() => app.close());

  describe('circuit breaker', () => {
    it('opens after N failures of two agents, fails fast with CIRCUIT_OPEN, and closes after a successful probe', async () => {
      const erin = await agent(app, ['testing.flaky']);
      const gina = await agent(app, ['testing.flaky']);
      const admin = await app.bearer('ops', ['mcp:admin']);
      const breakerState = async () => {
        const tools = (await (await fetch(`${app.baseUrl}/admin/tools`, { headers: admin })).json()) as {
          name: string;
          breaker: { state: string; failures: number };
        }[];
        return tools.find((t) => t.name === 'testing.flaky')!.breaker;
      };
      const client = await connectClient(app.mcpUrl, erin.auth);
      expect(await breakerState()).toMatchObject({ state: 'closed', failures: 3 });

      // One agent counts at most ⌈3 / BREAKER_MIN_AGENTS⌉ = 2 of the 3 failures (see breaker-attribution.e2e-spec.ts).
      const other = await connectClient(app.mcpUrl, gina.auth);
      for (const who of [client, client, other]) {
        const failed = await who.callTool({ name: 'testing.flaky', arguments: { fail: true } });
        expect(toolError(failed).code).toBe('TOOL_FAILED');
      }
      await other.close();
      const fastFail = await client.callTool({ name: 'testing.flaky', arguments: { fail: false } });
      expect(fastFail.isError).toBe(true);
      expect(fastFail._meta).toMatchObject({ 'mcp-production/error-code': 'CIRCUIT_OPEN' });
      const { details } = toolError(fastFail) as unknown as { details: { retryAfterMs: number } };
      expect(details.retryAfterMs).toBeGreaterThan(0);
      expect(details.retryAfterMs).toBeLessThanOrEqual(400);
      expect(await breakerState()).toMatchObject({ state: 'open' });
      expect(await metricsText(app)).toMatch(/mcp_breaker_state\{tool="testing\.flaky@1\.0\.0"\} 2/);

      await new Promise((resolve) => setTimeout(resolve, details.retryAfterMs + 50));
      const probe = await client.callTool({ name: 'testing.flaky', arguments: { fail: false } });
      expect(probe.isError).toBeFalsy();
      expect(await breakerState()).toMatchObject({ state: 'closed' });
      expect(await metricsText(app)).toMatch(/mcp_breaker_state\{tool="testing\.flaky@1\.0\.0"\} 0/);
      expect(
        (await client.callTool({ name: 'testing.flaky', arguments: { fail: false } })).isError,
      ).toBeFalsy();
      await client.close();
    });
  });

  describe('retries', () => {
    let client: Awaited<ReturnType<typeof connectClient>>;
    beforeAll(async () => {
      const frank = await agent(app, TESTING_TOOLS);
      client = await connectClient(app.mcpUrl, frank.auth);
    });
    afterAll(() => client.close());

    it('retries a transient failure of an idempotent tool and reports the attempts', async () => {
      const key = randomUUID();
      const result = await client.callTool({ name: 'testing.transient', arguments: { key, failTimes: 2 } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ runs: 3 });
      expect(result._meta).toMatchObject({ 'mcp-production/attempts': 3 });
      expect(fixtures.runsOf(key)).toBe(3);
    });

    it('gives up after the attempt bound with TOOL_UNAVAILABLE', async () => {
      const key = randomUUID();
      const result = await client.callTool({ name: 'testing.transient', arguments: { key, failTimes: 10 } });
      expect(toolError(result).code).toBe('TOOL_UNAVAILABLE');
      expect(fixtures.runsOf(key)).toBe(4); // retry.attempts of the tool
    });

    it('calls a non-idempotent tool exactly once, even when it fails transiently', async () => {
      const key = randomUUID();
      const result = await client.callTool({ name: 'testing.unsafe', arguments: { key } });
      expect(toolError(result).code).toBe('TOOL_UNAVAILABLE');
      expect(fixtures.runsOf(key)).toBe(1);
    });

    it('retries a non-idempotent tool when the call carries an idempotency key', async () => {
      const key = randomUUID();
      const result = await client.callTool({
        name: 'testing.unsafe',
        arguments: { key },
        _meta: { 'mcp-production/idempotency-key': `retry-${key}` },
      });
      expect(toolError(result).code).toBe('TOOL_UNAVAILABLE');
      expect(fixtures.runsOf(key)).toBe(3); // RETRY_MAX_ATTEMPTS default
    });
  });

  describe('timeouts', () => {
    it('aborts the handler signal, answers TOOL_TIMEOUT at once, and records it', async () => {
      const grace = await agent(app, ['testing.slow']);
      const client = await connectClient(app.mcpUrl, grace.auth);
      const key = randomUUID();
      const started = Date.now();
      const result = await client.callTool({ name: 'testing.slow', arguments: { key, ms: 10_000 } });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(toolError(result)).toMatchObject({ code: 'TOOL_TIMEOUT', details: { timeoutMs: 1000 } });
      expect(fixtures.sawAbort(key)).toBe(true);

      const quick = randomUUID();
      expect(
        (await client.callTool({ name: 'testing.slow', arguments: { key: quick, ms: 10 } })).isError,
      ).toBeFalsy();
      expect(fixtures.sawAbort(quick)).toBe(false);
      await client.close();

      expect(await auditRows(app, grace.id)).toContainEqual(
        expect.objectContaining({ kind: 'tool_call', tool_name: 'testing.slow', error_code: 'TOOL_TIMEOUT' }),
      );
      expect(await metricsText(app)).toMatch(
        /mcp_tool_calls_total\{tool="testing\.slow",version="1\.0\.0",outcome="[a-z_]+"\}/,
      );
    });
  });

  describe('client disconnect', () => {
    // Both eras' plain JSON calls run on a shared SDK server (SharedServer): the disconnect must reach the handler.
    it.each(ERAS)('aborts the handler signal of a %s call whose client goes away', async (era) => {
      const dana = await agent(app, ['testing.slow']);
      const key = randomUUID();
      const gone = new AbortController();
      const wire = onWire(era, {
        id: 1,
        method: 'tools/call',
        params: { name: 'testing.slow', arguments: { key, ms: 10_000 } },
      });
      const request = fetch(app.mcpUrl, {
        method: 'POST',
        headers: { ...HEADERS, ...wire.headers, ...dana.auth },
        body: JSON.stringify(wire.body),
        signal: gone.signal,
      });
      while (fixtures.runsOf(key) === 0) await new Promise((r) => setTimeout(r, 5));
      gone.abort();
      await expect(request).rejects.toThrow();
      while (!fixtures.sawAbort(key)) await new Promise((r) => setTimeout(r, 5));
      // The disconnect, not the tool's 1 s budget, fired it.
      expect(fixtures.abortReason(key)).toBe('client disconnected');
    });
  });

  describe('kill switch', () => {
    it('hides a disabled tool and refuses it on the next call; enabling restores it; both audited', async () => {
      const heidi = await agent(app, ['echo']);
      const admin = await app.bearer('ops-kill', ['mcp:admin']);
      const client = await connectClient(app.mcpUrl, heidi.auth);
      const names = async () => (await client.listTools()).tools.map((t) => t.name);
      expect(await names()).toContain('echo');

      const switchTool = (action: 'disable' | 'enable', headers = admin) =>
        fetch(`${app.baseUrl}/admin/tools/echo/${action}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'incident 42' }),
        });

      expect((await switchTool('disable', heidi.auth)).status).toBe(403); // needs mcp:admin
      expect((await switchTool('disable')).status).toBe(200);
      const refused = await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(toolError(refused).code).toBe('TOOL_DISABLED');
      expect(await names()).not.toContain('echo');

      expect((await switchTool('enable')).status).toBe(200);
      expect(
        (await client.callTool({ name: 'echo', arguments: { text: 'back' } })).structuredContent,
      ).toEqual({
        text: 'back',
      });
      expect(await names()).toContain('echo');
      await client.close();

      expect(await auditRows(app, 'ops-kill')).toEqual([
        expect.objectContaining({
          kind: 'admin',
          outcome: 'tool.disable',
          detail: expect.objectContaining({ tool: 'echo' }),
        }),
        expect.objectContaining({
          kind: 'admin',
          outcome: 'tool.enable',
          detail: expect.objectContaining({ tool: 'echo' }),
        }),
      ]);
    });

    it('answers 404 for an unknown tool or version', async () => {
      const admin = await app.bearer('ops-404', ['mcp:admin']);
      const res = await fetch(`${app.baseUrl}/admin/tools/echo/disable`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ version: '9.9.9' }),
      });
      expect(res.status).toBe(404);
    });
  });
});
