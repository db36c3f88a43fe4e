import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, type TestApp } from '../utils/app.js';
import { callTool, newAgent, toolErrorCode, type RpcAnswer } from '../utils/breaker-http.js';
import { databaseKind } from '../utils/database.js';

/**
 * Issue #15 class 1, per-agent in-flight cap: one agent cannot hold more than RATE_LIMIT_AGENT_CONCURRENT calls
 * at once (so it cannot hold most of the database pool). Black-box over HTTP.
 */
const CAP = 2;
const TOOLS = ['echo', 'testing.slow', 'testing.flaky'];

describe(`Per-agent in-flight cap (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({
      env: {
        TOOL_PACKS: 'echo,testing',
        RATE_LIMIT_AGENT_CONCURRENT: String(CAP),
        RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
      },
    });
  });
  afterAll(() => app.close());

  const slow = (auth: Record<string, string>, ms: number, signal?: AbortSignal) =>
    callTool(app, auth, 'testing.slow', { key: 'inflight', ms }, undefined, signal);

  /** CAP calls at once all succeed: nothing is left counted from earlier calls. */
  async function expectAllSlotsFree(auth: Record<string, string>) {
    const answers = await Promise.all(Array.from({ length: CAP }, () => slow(auth, 200)));
    expect(answers.map((a) => [a.status, a.body?.result?.isError ?? false])).toEqual(
      Array.from({ length: CAP }, () => [200, false]),
    );
  }

  it('answers a call over the cap with 429, Retry-After and a JSON-RPC error, audited; other agents are unaffected', async () => {
    const mallory = await newAgent(app, TOOLS);
    const holding = Array.from({ length: CAP }, () => slow(mallory.auth, 700));
    await sleep(200); // both in flight
    const refused = await callTool(app, mallory.auth, 'echo', { text: 'one too many' });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({
      jsonrpc: '2.0',
      error: {
        code: -32000,
        data: { code: 'RATE_LIMITED', limit: 'concurrent', maxInFlight: CAP, retryAfterSeconds: retryAfter },
      },
    });

    // Another agent is not limited by Mallory's calls.
    const bob = await newAgent(app, TOOLS);
    const other = await callTool(app, bob.auth, 'echo', { text: 'hi' });
    expect([other.status, other.body?.result?.isError ?? false]).toEqual([200, false]);

    const held = await Promise.all(holding);
    expect(held.map((a) => a.status)).toEqual([200, 200]);
    // Slots are free again once the calls finished.
    await expectAllSlotsFree(mallory.auth);

    // The refusal is in the audit trail like any rate-limit denial.
    const admin = await app.bearer('ops', ['mcp:admin']);
    const audit = (await (
      await fetch(`${app.baseUrl}/admin/audit?agent=${mallory.id}&outcome=rate_limited`, { headers: admin })
    ).json()) as { items: { kind: string; errorCode: string; toolName: string; detail: unknown }[] };
    expect(audit.items).toContainEqual(
      expect.objectContaining({
        kind: 'denied',
        errorCode: 'RATE_LIMITED',
        toolName: 'echo',
        detail: expect.objectContaining({ limit: 'concurrent', maxInFlight: CAP }),
      }),
    );
  });

  it('releases a slot however the call ends: success, tool error, invalid arguments, unknown tool, timeout', async () => {
    // In scope for an unknown tool too, so that its call passes the scope guard and ends in the pipeline.
    const carol = await newAgent(
      app,
      TOOLS,
      [...TOOLS, 'no.such.tool'].map((t) => `tool:${t}`),
    );
    const endings: (() => Promise<RpcAnswer>)[] = [
      () => callTool(app, carol.auth, 'echo', { text: 'ok' }),
      () => callTool(app, carol.auth, 'testing.flaky', { fail: true }),
      () => callTool(app, carol.auth, 'echo', { text: 42 }),
      () => callTool(app, carol.auth, 'no.such.tool', {}),
      () => callTool(app, carol.auth, 'echo', 'not an object'),
    ];
    for (const end of endings) for (let i = 0; i < CAP + 1; i++) expect((await end()).status).toBe(200);
    // Timeouts (testing.slow has a 1 s budget), CAP at a time.
    const timedOut = await Promise.all(Array.from({ length: CAP }, () => slow(carol.auth, 5000)));
    expect(timedOut.map(toolErrorCode)).toEqual(Array.from({ length: CAP }, () => 'TOOL_TIMEOUT'));
    await expectAllSlotsFree(carol.auth);
  });

  it('releases a slot when the client goes away mid-call', async () => {
    const dave = await newAgent(app, TOOLS);
    for (let round = 0; round < 2; round++) {
      const aborts = Array.from({ length: CAP }, () => new AbortController());
      const pending = aborts.map((a) => slow(dave.auth, 900, a.signal).catch(() => 'aborted'));
      await sleep(150);
      for (const a of aborts) a.abort();
      expect(await Promise.all(pending)).toEqual(Array.from({ length: CAP }, () => 'aborted'));
    }
    await sleep(100);
    await expectAllSlotsFree(dave.auth);
  });

  it('releases a slot when an SSE response ends', async () => {
    const erin = await newAgent(app, TOOLS);
    for (let i = 0; i < CAP + 2; i++) {
      // A progress token makes the answer an SSE stream.
      const answer = await callTool(app, erin.auth, 'echo', { text: 'sse' }, { progressToken: `p${i}` });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/text\/event-stream/);
      expect(answer.body?.result?.isError ?? false).toBe(false);
    }
    await expectAllSlotsFree(erin.auth);
  });
});
