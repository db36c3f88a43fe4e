import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, postgresUrl } from '../utils/database.js';
import { callTool, outcomeOf, tally } from '../utils/dbbounds.js';

const RUN_MS = 8000;

/**
 * Issue #15 §5 on real PostgreSQL: a call that answers an error has changed nothing, unless it says it may have
 * (`OUTCOME_UNKNOWN`). `counter.increment` runs under a tiny budget while another session keeps taking the
 * counter's row lock for longer than that budget; afterwards, with everything settled,
 * acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN answers.
 */
describe('timed-out writes: acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN (real PostgreSQL)', () => {
  let app: TestApp;
  let db: pg.Client;
  let auth: Record<string, string>;
  const agent = 'dbb-outcome-agent';

  beforeAll(async () => {
    const database = await createTestDatabase(postgresUrl);
    app = await startApp({
      reuse: { env: { DATABASE_URL: database.url!, MIGRATIONS_RUN: 'true' }, database },
      // Statements may wait for the row lock far longer than a call's budget: the budget, not the statement
      // timeout, ends the calls, so writes are in flight when their calls give up.
      // Neither the breaker nor the rate limit may stop the calls: the test is about what each call did.
      env: {
        TOOL_TIMEOUT_MS: '300',
        DB_STATEMENT_TIMEOUT_MS: '5000',
        BREAKER_FAILURES: '10000',
        RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
      },
    });
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
    await app.grant(agent, 'counter.increment');
    auth = await app.bearer(agent, ['tool:counter.increment']);
  });
  afterAll(async () => {
    await db?.end();
    await app?.close();
  });

  async function counter(): Promise<number> {
    const { rows } = await db.query<{ value: number }>(
      `SELECT value FROM agent_state WHERE agent_id = $1 AND key = 'counter/c'`,
      [agent],
    );
    return rows[0]?.value ?? 0;
  }

  it('keeps the invariant while the counter row is locked past the call budget, again and again', async () => {
    expect(outcomeOf(await callTool(app, auth, 'counter.increment', { name: 'c' }))).toBe('success');
    const base = await counter();
    expect(base).toBe(1);

    // Another session takes the counter's row lock for 100–700 ms at a time, with short gaps.
    const until = Date.now() + RUN_MS;
    const holder = new pg.Client({ connectionString: app.env.DATABASE_URL });
    await holder.connect();
    const interfere = (async () => {
      while (Date.now() < until) {
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM agent_state WHERE agent_id = $1 AND key = 'counter/c' FOR UPDATE`, [
          agent,
        ]);
        await sleep(100 + Math.random() * 600);
        await holder.query('COMMIT');
        await sleep(Math.random() * 150);
      }
    })();
    const outcomes: string[] = [];
    const worker = async () => {
      while (Date.now() < until)
        outcomes.push(outcomeOf(await callTool(app, auth, 'counter.increment', { name: 'c' })));
    };
    await Promise.all([interfere, worker(), worker(), worker()]);
    await holder.end();

    // Settle: whatever is still in flight commits or fails within the statement timeout.
    await sleep(1500);
    const acknowledged = outcomes.filter((o) => o === 'success').length;
    const unknown = outcomes.filter((o) => o === 'OUTCOME_UNKNOWN').length;
    const value = (await counter()) - base;
    console.log(
      `dbbounds outcome ${JSON.stringify({ counter: value, acknowledged, unknown, answers: tally(outcomes) })}`,
    );
    expect(outcomes.length - acknowledged).toBeGreaterThan(0); // the budget really ran out, more than once
    expect(value).toBeGreaterThanOrEqual(acknowledged);
    expect(value).toBeLessThanOrEqual(acknowledged + unknown);
    // Every error has a stable code; none is a generic failure.
    for (const o of outcomes) expect(['success', 'OUTCOME_UNKNOWN', 'TOOL_TIMEOUT']).toContain(o);
  }, 60_000);
});
