import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import {
  RESOURCE_UPDATES_CHANNEL,
  ResourceSubscriptions,
} from '../../src/tools/resource-subscriptions.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, databaseKind, postgresUrl } from '../utils/database.js';
import { TestIdp } from '../utils/idp.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 40;
const run = randomBytes(4).toString('hex'); // Redis counters outlive a test run: fresh agents every run
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A JSON-RPC response from either framing (live sessions answer with SSE, per-request servers with JSON). */
async function rpc(res: Response): Promise<{ result?: Record<string, unknown>; error?: unknown }> {
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .find((l) => l.startsWith('data: {'))! // not a priming event (id, empty data)
        .slice(6)
    : text;
  return JSON.parse(json) as { result?: Record<string, unknown> };
}

/**
 * Three replicas on loopback ports sharing one database and one Redis, no affinity: a client spreads calls
 * round-robin. Counters end exact, one global rate limit holds, every call has one audit row, and a session
 * opened on one replica continues on the others.
 */
describe(`three replicas without affinity (${databaseKind})`, () => {
  const replicas: TestApp[] = [];
  let idp: TestIdp;
  let databaseUrl: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    idp = await TestIdp.start();
    if (process.env.DATABASE_URL) {
      const database = await createTestDatabase();
      databaseUrl = database.url!;
      cleanup = () => database.drop();
    } else {
      // The embedded default serves one process; for replicas, share one embedded server over its socket.
      const dir = await mkdtemp(join(tmpdir(), 'mcp-shared-'));
      const embedded = await EmbeddedPostgres.start(dir, 40);
      databaseUrl = embedded.url;
      cleanup = async () => {
        await embedded.stop();
        await rm(dir, { recursive: true, force: true });
      };
    }
    const env = {
      DATABASE_URL: databaseUrl,
      MIGRATIONS_RUN: 'true',
      REDIS_URL,
      RATE_LIMIT_AGENT_PER_MINUTE: String(LIMIT),
      TOOL_TIMEOUT_MS: '120000',
    };
    // One after the other: the first applies the migrations (production runs them as a Job instead).
    for (let i = 0; i < 3; i++) replicas.push(await startApp({ idp, env }));
  }, 180_000);

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await idp.close();
    await cleanup();
  });

  const at = (i: number) => replicas[i % replicas.length];

  async function call(i: number, headers: Record<string, string>, name: string, args: object, extra = {}) {
    return fetch(at(i).mcpUrl, {
      method: 'POST',
      headers: { ...HEADERS, ...headers, ...extra },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: { name, arguments: args },
      }),
    });
  }

  /** A session opened on replica 0 (stateful mode). */
  async function openSession(headers: Record<string, string>): Promise<string> {
    const res = await fetch(at(0).mcpUrl, {
      method: 'POST',
      headers: { ...HEADERS, ...headers },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'lb-test', version: '1' },
        },
      }),
    });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    return res.headers.get('mcp-session-id')!;
  }

  it('keeps counters exact, one global rate limit, and one audit row per call', async () => {
    const agents = ['a', 'b', 'c'].map((n) => `lb-${n}-${run}`);
    const headers: Record<string, Record<string, string>> = {};
    for (const agent of agents) {
      await replicas[0].grant(agent, 'counter.increment');
      await replicas[0].grant(agent, 'echo');
      const auth = await replicas[0].bearer(agent, ['tool:counter.increment', 'tool:echo']);
      headers[agent] = {
        ...auth,
        'mcp-session-id': await openSession(auth),
        'mcp-protocol-version': '2025-11-25',
      };
    }
    // 30 increments per agent, concurrently, round-robin over the replicas, inside each agent's session.
    const increments = agents.flatMap((agent) =>
      Array.from({ length: 30 }, (_, i) => call(i, headers[agent], 'counter.increment', { name: 'shared' })),
    );
    const responses = await Promise.all(increments);
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const values = await Promise.all(responses.map(rpc));
    expect(values.every((v) => v.result && !v.result.isError)).toBe(true);

    // Counters: exactly 30 per agent, whichever replica served each call.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ agent_id: string; value: number }>(
        `SELECT agent_id, value FROM agent_state WHERE key = 'counter/shared' AND agent_id = ANY($1) ORDER BY agent_id`,
        [agents],
      );
      expect(rows).toEqual(agents.map((agent_id) => ({ agent_id, value: 30 })));

      // One global limit across replicas: LIMIT calls per agent per minute in all; 30 are used already.
      const rest = await Promise.all(
        Array.from({ length: 20 }, (_, i) => call(i, headers[agents[0]], 'echo', { text: 'x' })),
      );
      const statuses = rest.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT - 30);
      expect(statuses.filter((s) => s === 429)).toHaveLength(20 - (LIMIT - 30));
      expect(rest.find((r) => r.status === 429)!.headers.get('retry-after')).toMatch(/^\d+$/);

      // Audit: one row per call, on whichever replica it ran.
      const { rows: audit } = await db.query<{ agent_id: string; outcome: string; n: number }>(
        `SELECT agent_id, outcome, count(*)::int AS n FROM audit_event
          WHERE agent_id = ANY($1) AND kind IN ('tool_call', 'denied') GROUP BY agent_id, outcome ORDER BY agent_id, outcome`,
        [agents],
      );
      expect(audit).toEqual([
        { agent_id: agents[0], outcome: 'rate_limited', n: 20 - (LIMIT - 30) },
        { agent_id: agents[0], outcome: 'success', n: LIMIT },
        { agent_id: agents[1], outcome: 'success', n: 30 },
        { agent_id: agents[2], outcome: 'success', n: 30 },
      ]);
    } finally {
      await db.end();
    }
  }, 120_000);

  it('continues a session opened on one replica on the others, for its own agent only', async () => {
    const agent = `lb-session-${run}`;
    await replicas[0].grant(agent, 'echo');
    const auth = await replicas[0].bearer(agent, ['tool:echo']);
    const session = {
      ...auth,
      'mcp-session-id': await openSession(auth),
      'mcp-protocol-version': '2025-11-25',
    };
    for (const i of [1, 2, 0]) {
      const res = await call(i, session, 'echo', { text: `via ${i}` });
      expect(res.status).toBe(200);
      expect((await rpc(res)).result).toMatchObject({ structuredContent: { text: `via ${i}` } });
    }
    // Another agent presenting the session id gets 404 on every replica.
    const intruder = {
      ...(await replicas[0].bearer(`lb-intruder-${run}`, ['tool:echo'])),
      'mcp-session-id': session['mcp-session-id'],
    };
    for (const i of [0, 1, 2]) expect((await call(i, intruder, 'echo', { text: 'x' })).status).toBe(404);

    // DELETE on a replica that does not hold the live transport ends it everywhere.
    const deleted = await fetch(at(2).mcpUrl, { method: 'DELETE', headers: session });
    expect(deleted.status).toBe(200);
    expect((await call(1, session, 'echo', { text: 'x' })).status).toBe(404);
    // The owner notices within its re-check interval (5 s at most).
    let status = 0;
    for (let i = 0; i < 30 && status !== 404; i++) {
      status = (await call(0, session, 'echo', { text: 'x' })).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(404);
  }, 60_000);
});

/**
 * Resource updates between replicas travel through PostgreSQL LISTEN/NOTIFY, which only a real server carries
 * between processes (the embedded database serves one process): two replicas on a PostgreSQL database of their
 * own, whichever database the rest of the suite runs on.
 */
describe('resource updates across replicas (PostgreSQL LISTEN/NOTIFY)', () => {
  const replicas: TestApp[] = [];
  let idp: TestIdp;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    idp = await TestIdp.start();
    database = await createTestDatabase(postgresUrl);
    const env = {
      DATABASE_URL: database.url!,
      MIGRATIONS_RUN: 'true',
      TOOL_PACKS: 'echo,conformance', // a watched resource
    };
    for (let i = 0; i < 3; i++) replicas.push(await startApp({ idp, env }));
  }, 120_000);

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await idp.close();
    await database?.drop();
  });

  const uri = 'test://watched-resource';
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const updatedOn = (i: number) => replicas[i].app.get(ResourceSubscriptions).updated(uri);

  /** An SDK client whose session (and GET stream) replica 0 holds, subscribed to the watched resource. */
  async function watcher(agent: string) {
    await replicas[0].grant(agent, 'resource:test_watched_resource');
    const client = new Client({ name: 'scale-out-watcher', version: '1.0.0' });
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    const headers = await replicas[0].bearer(agent, ['resource:test_watched_resource']);
    await client.connect(new StreamableHTTPClientTransport(replicas[0].mcpUrl, { requestInit: { headers } }));
    await client.subscribeResource({ uri });
    // The GET stream opens right after initialize: wait until a local update gets through.
    for (let i = 0; i < 50 && updates.length === 0; i++) {
      await updatedOn(0);
      await sleep(100);
    }
    await sleep(500); // no echo of replica 0's own updates comes back
    updates.length = 0;
    const waitFor = async (count: number) => {
      for (let i = 0; i < 50 && updates.length < count; i++) await sleep(100);
      return updates.length;
    };
    return { updates, waitFor, close: () => client.close() };
  }

  it('delivers a resource update made on any replica to the subscribers held by another, once', async () => {
    const { updates, waitFor, close } = await watcher(`lb-watcher-${run}`);
    try {
      // Replica 1 changes the resource: nobody subscribed there, but replica 0's subscriber hears of it.
      expect(await updatedOn(1)).toBe(0);
      expect(await waitFor(1)).toBe(1);
      expect(await updatedOn(2)).toBe(0);
      expect(await waitFor(2)).toBe(2);
      // Replica 0 itself: delivered at once, and not a second time through the database.
      expect(await updatedOn(0)).toBe(1);
      await sleep(1000); // time for a duplicate to show up, if any
      expect(updates).toEqual([uri, uri, uri]);
    } finally {
      await close();
    }
  }, 60_000);

  it('listens again after its database connection is cut', async () => {
    const { updates, waitFor, close } = await watcher(`lb-cut-${run}`);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ cut: boolean }>(
        `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'LISTEN ${RESOURCE_UPDATES_CHANNEL}'`,
      );
      expect(rows.length).toBe(3); // one listener per replica
      // Updates sent while a listener reconnects are lost (best effort); within a few seconds they arrive again.
      for (let i = 0; i < 50 && updates.length === 0; i++) {
        await updatedOn(1);
        await sleep(200);
      }
      expect(updates.length).toBeGreaterThan(0);
      updates.length = 0;
      expect(await updatedOn(2)).toBe(0);
      expect(await waitFor(1)).toBe(1);
    } finally {
      await admin.end();
      await close();
    }
  }, 60_000);
});
