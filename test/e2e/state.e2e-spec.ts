import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DataSource } from 'typeorm';
import { IDEMPOTENCY_KEY_META, IDEMPOTENT_REPLAY_META } from '../../src/tools/steps/idempotency.step.js';
import { ERROR_CODE_META } from '../../src/tools/tool-errors.js';
import { startApp, type TestApp } from '../utils/app.js';
import { DatabaseUrl } from '../../src/database/database.module.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';

const TOOLS = ['counter.increment', 'state.get', 'state.set', 'state.delete', 'state.list'];

/** A real SDK client of `agentId`, with a valid token for every state tool and a grant for each. */
async function agentClient(app: TestApp, agentId: string): Promise<Client> {
  for (const tool of TOOLS) await app.grant(agentId, tool);
  return connectClient(
    app.mcpUrl,
    await app.bearer(
      agentId,
      TOOLS.map((t) => `tool:${t}`),
    ),
  );
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  meta?: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args, ...(meta && { _meta: meta }) })) as CallToolResult;
}

/** The structured output of a successful call (fails the test on a tool error). */
function ok<T = Record<string, unknown>>(result: CallToolResult): T {
  if (result.isError) throw new Error(`unexpected tool error: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** The error of a failed call: code (also in `_meta`), message, details. */
function failure(result: CallToolResult): { code: string; details?: Record<string, unknown> } {
  expect(result.isError).toBe(true);
  const text = (result.content[0] as { text: string }).text;
  const { error } = JSON.parse(text) as { error: { code: string; details?: Record<string, unknown> } };
  expect(result._meta?.[ERROR_CODE_META]).toBe(error.code);
  return error;
}

describe(`state and counter tools over MCP (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  it('lists the state tools with honest annotations and strict schemas', async () => {
    const client = await agentClient(app, 'lister');
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual([...TOOLS].sort());
    for (const name of ['state.get', 'state.list'])
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    for (const name of ['state.set', 'counter.increment'])
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: false, idempotentHint: false });
    expect(byName.get('state.delete')?.annotations).toMatchObject({
      destructiveHint: true,
      idempotentHint: true,
    });
    for (const tool of tools) {
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(tool.outputSchema).toMatchObject({ type: 'object' });
    }
    await client.close();
  });

  it('20 agents x 50 concurrent counter.increment calls end at exactly 50 each', async () => {
    const agents = Array.from({ length: 20 }, (_, i) => `counter-agent-${i}`);
    const clients = await Promise.all(agents.map((agentId) => agentClient(app, agentId)));
    const results = await Promise.all(
      clients.map((client) =>
        Promise.all(Array.from({ length: 50 }, () => call(client, 'counter.increment', { name: 'hits' }))),
      ),
    );
    for (const [i, perAgent] of results.entries()) {
      // Every call succeeded and saw a distinct value: each increment happened exactly once.
      const outputs = perAgent.map((r) => ok<{ value: number; version: number }>(r));
      const values = outputs.map((o) => o.value).sort((a, b) => a - b);
      expect(values).toEqual(Array.from({ length: 50 }, (_, v) => v + 1));
      // Each wrote its own version, the one matching its value (every increment adds one to both).
      for (const o of outputs) expect(o.version).toBe(o.value);
      const stored = ok(await call(clients[i], 'state.get', { key: 'counter/hits' }));
      expect(stored).toMatchObject({ found: true, value: 50, version: 50 });
      // One state_change audit row per increment, naming the version it wrote.
      const audited = await app.app.get(DataSource).query<{ version: number }[]>(
        `SELECT (detail->>'version')::int AS version FROM audit_event
            WHERE kind = 'state_change' AND outcome = 'increment' AND agent_id = $1 ORDER BY 1`,
        [agents[i]],
      );
      expect(audited.map((r) => r.version)).toEqual(values);
    }
    await Promise.all(clients.map((c) => c.close()));
  }, 120_000); // typically 5-15 s; the embedded database serialises every statement

  it('two writers with the same expectedVersion: one wins, the other gets the current version', async () => {
    const client = await agentClient(app, 'writer');
    expect(ok(await call(client, 'state.set', { key: 'doc', value: { n: 0 } }))).toEqual({
      key: 'doc',
      version: 1,
      created: true,
    });
    const [a, b] = await Promise.all([
      call(client, 'state.set', { key: 'doc', value: { n: 'a' }, expectedVersion: 1 }),
      call(client, 'state.set', { key: 'doc', value: { n: 'b' }, expectedVersion: 1 }),
    ]);
    const winner = a.isError ? b : a;
    const loser = a.isError ? a : b;
    expect(ok(winner)).toEqual({ key: 'doc', version: 2, created: false });
    expect(failure(loser)).toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { key: 'doc', expectedVersion: 1, currentVersion: 2 },
    });
    // create-only on an existing key, and a versioned delete, are checked the same way
    expect(
      failure(await call(client, 'state.set', { key: 'doc', value: 1, expectedVersion: 0 })),
    ).toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { currentVersion: 2 },
    });
    expect(failure(await call(client, 'state.delete', { key: 'doc', expectedVersion: 1 }))).toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { currentVersion: 2 },
    });
    expect(ok(await call(client, 'state.delete', { key: 'doc', expectedVersion: 2 }))).toEqual({
      key: 'doc',
      deleted: true,
      version: 2,
    });
    expect(ok(await call(client, 'state.get', { key: 'doc' }))).toEqual({
      key: 'doc',
      found: false,
      version: 0,
    });
    await client.close();
  });

  it("agent A cannot read, list, overwrite or delete agent B's keys, whatever it sends", async () => {
    const bob = await agentClient(app, 'bob');
    const alice = await agentClient(app, 'alice');
    for (const key of ['secret', 'notes/1', 'notes/2', 'bob/secret'])
      ok(await call(bob, 'state.set', { key, value: `bob's ${key}` }));
    ok(await call(bob, 'counter.increment', { name: 'shared-name', by: 7 }));
    const bobsPage = ok<{ nextCursor: string }>(await call(bob, 'state.list', { limit: 1 }));

    // Reads: nothing of Bob's is visible under any key, prefix or cursor.
    for (const key of ['secret', 'bob/secret', 'notes/1', 'counter/shared-name'])
      expect(ok(await call(alice, 'state.get', { key }))).toMatchObject({ found: false, version: 0 });
    for (const args of [{}, { prefix: 'notes/' }, { prefix: 'bob' }, { cursor: bobsPage.nextCursor }])
      expect(ok(await call(alice, 'state.list', args))).toEqual({ items: [] });

    // Arguments naming another agent are refused (strict schemas), not ignored.
    for (const [tool, args] of [
      ['state.get', { key: 'secret', agentId: 'bob' }],
      ['state.list', { agent_id: 'bob' }],
      ['state.set', { key: 'secret', value: 1, agentId: 'bob' }],
      ['state.delete', { key: 'secret', agent: 'bob' }],
      ['counter.increment', { name: 'shared-name', agentId: 'bob' }],
    ] as const)
      expect(failure(await call(alice, tool, args)).code).toBe('INVALID_ARGUMENTS');

    // Writes: Alice's writes and deletes land in her own space only.
    expect(
      failure(await call(alice, 'state.set', { key: 'secret', value: 'x', expectedVersion: 1 })),
    ).toMatchObject({ code: 'STATE_VERSION_CONFLICT', details: { currentVersion: 0 } });
    expect(ok(await call(alice, 'state.set', { key: 'secret', value: 'alice' }))).toMatchObject({
      created: true,
    });
    expect(ok(await call(alice, 'state.delete', { key: 'notes/1' }))).toEqual({
      key: 'notes/1',
      deleted: false,
    });
    expect(ok(await call(alice, 'counter.increment', { name: 'shared-name' }))).toMatchObject({ value: 1 });
    ok(await call(alice, 'state.delete', { key: 'secret' }));

    // Bob's state is exactly as he left it.
    for (const key of ['secret', 'notes/1', 'notes/2', 'bob/secret'])
      expect(ok(await call(bob, 'state.get', { key }))).toMatchObject({ value: `bob's ${key}`, version: 1 });
    expect(ok(await call(bob, 'state.get', { key: 'counter/shared-name' }))).toMatchObject({ value: 7 });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a repeated idempotency key runs once and returns the first result; other arguments are rejected', async () => {
    const client = await agentClient(app, 'idempotent');
    const meta = { [IDEMPOTENCY_KEY_META]: 'charge-2026-001' };
    // Concurrent duplicates of a fresh key: one runs, the others wait for its result.
    const burst = await Promise.all(
      Array.from({ length: 6 }, () => call(client, 'counter.increment', { name: 'orders', by: 5 }, meta)),
    );
    const [first] = burst;
    for (const r of burst) expect(ok(r)).toEqual({ name: 'orders', value: 5, version: 1 });
    expect(burst.filter((r) => r._meta?.[IDEMPOTENT_REPLAY_META] === true)).toHaveLength(5);

    const repeat = await call(client, 'counter.increment', { name: 'orders', by: 5 }, meta);
    expect(ok(repeat)).toEqual(ok(first));
    expect(repeat._meta?.[IDEMPOTENT_REPLAY_META]).toBe(true);

    expect(failure(await call(client, 'counter.increment', { name: 'orders', by: 6 }, meta)).code).toBe(
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(ok(await call(client, 'state.get', { key: 'counter/orders' }))).toMatchObject({
      value: 5,
      version: 1,
    });

    // A fresh key is a fresh call.
    const next = await call(
      client,
      'counter.increment',
      { name: 'orders', by: 5 },
      { [IDEMPOTENCY_KEY_META]: 'k2' },
    );
    expect(ok(next)).toMatchObject({ value: 10, version: 2 });
    await client.close();
  });

  it('pages through state.list and reports limit errors with their codes', async () => {
    const client = await agentClient(app, 'pager');
    for (let i = 0; i < 7; i++) ok(await call(client, 'state.set', { key: `p/${i}`, value: i }));
    ok(await call(client, 'state.set', { key: 'q', value: 'other prefix' }));
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = ok<{ items: { key: string }[]; nextCursor?: string }>(
        await call(client, 'state.list', { prefix: 'p/', limit: 3, ...(cursor && { cursor }) }),
      );
      keys.push(...page.items.map((i) => i.key));
      cursor = page.nextCursor;
    } while (cursor);
    expect(keys).toEqual(Array.from({ length: 7 }, (_, i) => `p/${i}`));

    expect(failure(await call(client, 'state.set', { key: 'k'.repeat(257), value: 1 })).code).toBe(
      'STATE_KEY_INVALID',
    );
    expect(failure(await call(client, 'state.set', { key: 'big', value: 'x'.repeat(70_000) })).code).toBe(
      'STATE_VALUE_TOO_LARGE',
    );
    expect(failure(await call(client, 'state.list', { cursor: 'bogus!' })).code).toBe('INVALID_ARGUMENTS');
    ok(await call(client, 'state.set', { key: 'counter/not-a-number', value: 'abc' }));
    expect(failure(await call(client, 'counter.increment', { name: 'not-a-number' })).code).toBe(
      'COUNTER_INVALID',
    );
    await client.close();
  });
});

describe(`state over MCP across a restart (${databaseKind})`, () => {
  it('keeps every key and version when the app is stopped and started', async () => {
    const first = await startApp();
    const before = await agentClient(first, 'durable');
    for (let i = 0; i < 5; i++) {
      for (let v = 0; v <= i; v++) ok(await call(before, 'state.set', { key: `k${i}`, value: { i, v } }));
    }
    for (let i = 0; i < 3; i++) ok(await call(before, 'counter.increment', { name: 'c' }));
    const listed = ok(await call(before, 'state.list', { limit: 100 }));
    await before.close();
    await first.stop();

    const second = await startApp({ reuse: first });
    try {
      const after = await agentClient(second, 'durable');
      for (let i = 0; i < 5; i++) {
        expect(ok(await call(after, 'state.get', { key: `k${i}` }))).toMatchObject({
          found: true,
          value: { i, v: i },
          version: i + 1,
        });
      }
      expect(ok(await call(after, 'state.list', { limit: 100 }))).toEqual(listed);
      expect(ok(await call(after, 'counter.increment', { name: 'c' }))).toEqual({
        name: 'c',
        value: 4,
        version: 4,
      });
      await after.close();
    } finally {
      await second.close();
    }
  });
});

describe(`counter.increment on two replicas of one database (${databaseKind})`, () => {
  it('agents incrementing through both replicas at once end at exactly 50 each', async () => {
    // Two app instances on one database: the in-process queue of one replica cannot order the other's writes,
    // so only the compare-and-set (and its retries) keeps the count exact.
    const a = await startApp();
    const url = a.database.url ?? (await a.app.get(DatabaseUrl).resolve());
    const b = await startApp({
      idp: a.idp,
      env: { DATABASE_URL: url, MIGRATIONS_RUN: 'false', DB_POOL_SIZE: '4' },
    });
    try {
      const agents = ['r1', 'r2', 'r3', 'r4', 'r5'];
      const results = await Promise.all(
        agents.map(async (agentId) => {
          const [viaA, viaB] = [
            await agentClient(a, agentId),
            await connectClient(
              b.mcpUrl,
              await b.bearer(
                agentId,
                TOOLS.map((t) => `tool:${t}`),
              ),
            ),
          ];
          const calls = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              call(i % 2 ? viaA : viaB, 'counter.increment', { name: 'shared' }),
            ),
          );
          const stored = ok(await call(viaB, 'state.get', { key: 'counter/shared' }));
          await Promise.all([viaA.close(), viaB.close()]);
          return { values: calls.map((r) => ok<{ value: number }>(r).value).sort((x, y) => x - y), stored };
        }),
      );
      for (const { values, stored } of results) {
        expect(values).toEqual(Array.from({ length: 50 }, (_, v) => v + 1));
        expect(stored).toMatchObject({ value: 50, version: 50 });
      }
    } finally {
      await b.close();
      await a.close();
    }
  }, 120_000);
});
