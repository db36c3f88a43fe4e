import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../utils/database.js';
import { callTool, FreezingProxy, outcomeOf, rpc, tally, timed, type Timed } from '../utils/dbbounds.js';

const TOOL_TIMEOUT_MS = 2000;
const CALL_BOUND_MS = TOOL_TIMEOUT_MS + 1000;
const READY_BOUND_MS = 1000;
const FREEZE_MS = 6000;

/**
 * Issue #15 §4, a database that never answers: the app reaches real PostgreSQL through a proxy that freezes (it
 * keeps every connection open and accepts new ones, but forwards nothing: a partition without reset, or a
 * SIGSTOPped server). While frozen, every request answers within its bound and /health/ready answers 503 within
 * 1 s; no call answers success without its audit row; once thawed, readiness and calls recover on their own.
 */
describe('bounded database waits: a database that never answers (real PostgreSQL behind a freezing proxy)', () => {
  let app: TestApp;
  let database: TestDatabase;
  let proxy: FreezingProxy;
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  const agent = 'dbb-freeze-agent';

  beforeAll(async () => {
    database = await createTestDatabase(postgresUrl);
    const target = new URL(database.url!);
    proxy = new FreezingProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    app = await startApp({
      reuse: { env: { DATABASE_URL: proxy.urlFor(database.url!), MIGRATIONS_RUN: 'true' }, database },
      env: { TOOL_TIMEOUT_MS: String(TOOL_TIMEOUT_MS) },
    });
    for (const tool of ['echo', 'counter.increment']) await app.grant(agent, tool);
    auth = await app.bearer(agent, ['tool:echo', 'tool:counter.increment']);
    admin = await app.bearer('dbb-admin', ['mcp:admin']);
  });
  afterAll(async () => {
    proxy?.thaw();
    await app?.close();
    await proxy?.stop();
  });

  const ready = () => timed(`${app.baseUrl}/health/ready`);

  it('answers everything in time while frozen, and recovers when thawed', async () => {
    expect(outcomeOf(await callTool(app, auth, 'echo', { text: 'warm' }))).toBe('success');
    expect((await ready()).status).toBe(200);

    proxy.freeze();
    const frozenAt = Date.now();
    const calls: Timed[] = [];
    const lists: Timed[] = [];
    const admins: Timed[] = [];
    const probes: Timed[] = [];
    const until = frozenAt + FREEZE_MS;
    const loop = async (run: () => Promise<void>) => {
      while (Date.now() < until) await run();
    };
    await Promise.all([
      loop(async () => void calls.push(await callTool(app, auth, 'echo', { text: 'frozen' }))),
      loop(async () => void calls.push(await callTool(app, auth, 'counter.increment', { name: 'f' }))),
      loop(async () => void lists.push(await rpc(app, auth, 'tools/list', {}))),
      loop(async () => void admins.push(await timed(`${app.baseUrl}/admin/grants`, { headers: admin }))),
      loop(async () => {
        probes.push(await ready());
        await sleep(200);
      }),
    ]);
    proxy.thaw();
    const thawedAt = Date.now();

    const slowest = (answers: Timed[]) => Math.round(Math.max(0, ...answers.map((a) => a.ms)));
    const figures = {
      calls: tally(calls.map(outcomeOf)),
      maxCallMs: slowest(calls),
      lists: tally(lists.map(outcomeOf)),
      maxListMs: slowest(lists),
      admin: tally(admins.map((a) => String(a.status))),
      maxAdminMs: slowest(admins),
      ready: tally(probes.map((p) => String(p.status))),
      maxReadyMs: slowest(probes),
    };
    console.log(`dbbounds freeze ${JSON.stringify(figures)}`);
    expect(figures.maxCallMs).toBeLessThanOrEqual(CALL_BOUND_MS);
    expect(figures.maxListMs).toBeLessThanOrEqual(CALL_BOUND_MS);
    expect(figures.maxAdminMs).toBeLessThanOrEqual(CALL_BOUND_MS);
    // An admin read the database could not answer in time is an outage (503 + Retry-After), never a 500.
    expect(admins.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    expect(figures.maxReadyMs).toBeLessThanOrEqual(READY_BOUND_MS);
    // Readiness says "not ready" within its 1 s once the database stops answering.
    expect(probes.filter((p) => p.status === 503).length).toBeGreaterThan(0);
    expect(probes.filter((p) => p.status === 200).every((p) => p.ms < 1000)).toBe(true);

    // Thawed: readiness is back within 2 s, and calls succeed again without a restart.
    let readyAgainMs = Infinity;
    while (Date.now() - thawedAt < 10_000) {
      if ((await ready()).status === 200) {
        readyAgainMs = Date.now() - thawedAt;
        break;
      }
      await sleep(100);
    }
    expect(readyAgainMs).toBeLessThanOrEqual(2000);
    await sleep(500);
    expect(outcomeOf(await callTool(app, auth, 'echo', { text: 'thawed' }))).toBe('success');

    // No success without its audit row (checked directly, after the thaw).
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      await sleep(500);
      const successes = calls.filter((c) => outcomeOf(c) === 'success').map((c) => c.requestId);
      const { rows } = await db.query<{ request_id: string }>(
        `SELECT request_id FROM audit_event WHERE kind = 'tool_call' AND request_id = ANY($1)`,
        [successes],
      );
      const audited = new Set(rows.map((r) => r.request_id));
      expect(successes.filter((id) => !audited.has(id))).toEqual([]);
    } finally {
      await db.end();
    }
  }, 60_000);
});
