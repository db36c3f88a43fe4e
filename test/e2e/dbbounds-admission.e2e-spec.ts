import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, postgresUrl } from '../utils/database.js';
import { callTool, outcomeOf } from '../utils/dbbounds.js';

const TOOL_TIMEOUT_MS = 2000;
/** `testing.slow`'s own budget. */
const SLOW_BUDGET_MS = 1000;
/** README "Failure modes": a `tools/call` answers within its budget + 1 s, whatever it waited for. */
const CALL_BOUND_MS = SLOW_BUDGET_MS + 1000;

/**
 * The call's budget covers its admission too (real PostgreSQL, a database of its own). With ONE pooled connection
 * and the audit table locked, a first call's audit flush holds the connection until its statement times out
 * (`DB_STATEMENT_TIMEOUT_MS`, 1 s), so a second call, `testing.slow` (budget 1 s) asked to work 950 ms, waits
 * ≈ 0.9 s for a connection in admission (the gate read) before its pipeline starts. It must still answer within
 * its budget + 1 s: a budget counted from the pipeline's start instead of the request's arrival lets the tool run
 * its 950 ms and the audit row wait 0.5 s more, ≈ 2.4 s in all.
 */
describe('bounded database waits: the budget starts when the request arrives (real PostgreSQL)', () => {
  let app: TestApp;
  let auth: Record<string, string>;

  beforeAll(async () => {
    const database = await createTestDatabase(postgresUrl);
    app = await startApp({
      reuse: { env: { DATABASE_URL: database.url!, MIGRATIONS_RUN: 'true' }, database },
      env: {
        TOOL_PACKS: 'echo,testing',
        TOOL_TIMEOUT_MS: String(TOOL_TIMEOUT_MS),
        DB_POOL_SIZE: '1',
        // The second call must get the connection, however long the first holds it.
        DB_ACQUIRE_TIMEOUT_MS: '5000',
        RATE_LIMIT_AGENT_CONCURRENT: '10',
      },
    });
    for (const tool of ['echo', 'testing.slow']) await app.grant('dbb-admission-agent', tool);
    auth = await app.bearer('dbb-admission-agent', ['tool:echo', 'tool:testing.slow']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers a call that waited for a connection in admission within its budget + 1 s', async () => {
    expect(outcomeOf(await callTool(app, auth, 'echo', { text: 'warm' }))).toBe('success');
    const locker = new pg.Client({ connectionString: app.env.DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE');
    try {
      const first = callTool(app, auth, 'echo', { text: 'first' });
      await sleep(100); // the first call's audit flush now holds the only connection, blocked on the lock
      const second = await callTool(app, auth, 'testing.slow', { key: 'admission', ms: 950 });
      expect(outcomeOf(await first)).toBe('AUDIT_UNAVAILABLE');
      console.log(`dbbounds admission: ${outcomeOf(second)} in ${Math.round(second.ms)} ms`);
      expect(['TOOL_TIMEOUT', 'AUDIT_UNAVAILABLE']).toContain(outcomeOf(second));
      expect(Math.round(second.ms)).toBeLessThanOrEqual(CALL_BOUND_MS);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    expect(outcomeOf(await callTool(app, auth, 'echo', { text: 'after' }))).toBe('success');
  }, 30_000);
});
