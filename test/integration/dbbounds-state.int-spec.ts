import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CallWrites } from '../../src/state/call-writes.js';
import { StateService } from '../../src/state/state.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, postgresUrl } from '../utils/database.js';

/**
 * Issue #15 §5, deterministically, on real PostgreSQL: a state handle bound to a call withdraws a write that is
 * still waiting for its statement when the call ends (it never happens), answers OUTCOME_UNKNOWN for one already
 * sent (it may happen, and here does), and reports a statement the server cancelled at `statement_timeout` as
 * TOOL_UNAVAILABLE (it did not happen).
 */
describe('state writes bound to their call (real PostgreSQL)', () => {
  let app: TestApp;
  let state: StateService;
  let holder: pg.Client;
  const agentId = 'dbb-state-agent';

  beforeAll(async () => {
    const database = await createTestDatabase(postgresUrl);
    app = await startApp({
      reuse: { env: { DATABASE_URL: database.url!, MIGRATIONS_RUN: 'true' }, database },
      env: { DB_STATEMENT_TIMEOUT_MS: '1000' },
    });
    state = app.app.get(StateService);
    holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await app?.close();
  });

  /** A handle of `agentId` bound to a call of its own. */
  function call() {
    const end = new AbortController();
    const writes = new CallWrites();
    const handle = state.forCall(state.forAgent(agentId), { signal: end.signal, writes });
    return { handle, writes, end: (why: string) => end.abort(new Error(why)) };
  }

  /** Holds the row lock of `key` until the returned function is called. */
  async function lockRow(key: string): Promise<() => Promise<void>> {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM agent_state WHERE agent_id = $1 AND key = $2 FOR UPDATE`, [
      agentId,
      key,
    ]);
    return async () => void (await holder.query('COMMIT'));
  }

  it('withdraws a waiting write, and answers OUTCOME_UNKNOWN for one in flight', async () => {
    await state.set(agentId, 'locked', 0);
    const release = await lockRow('locked');
    const a = call();
    const sent = a.handle.set('locked', 1); // goes out, then waits for the row lock
    await sleep(100);
    const b = call();
    const waiting = b.handle.set('other', 2); // same kind of write: waits for the statement before it
    await sleep(50);

    b.end('deadline of b');
    await expect(waiting).rejects.toThrow('deadline of b');
    expect(b.writes.mayHaveChanged).toBe(false);
    a.end('deadline of a');
    await expect(sent).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    expect(a.writes.mayHaveChanged).toBe(true);

    await release();
    await sleep(300);
    expect(await state.get(agentId, 'locked')).toMatchObject({ value: 1, version: 2 }); // it did happen
    expect(await state.get(agentId, 'other')).toBeUndefined(); // it never did
  });

  it('reports a write the server cancelled at statement_timeout as TOOL_UNAVAILABLE: nothing changed', async () => {
    await state.set(agentId, 'slow', 'before');
    const release = await lockRow('slow');
    const c = call();
    try {
      const started = Date.now();
      await expect(c.handle.set('slow', 'after')).rejects.toMatchObject({ code: 'TOOL_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(c.writes.mayHaveChanged).toBe(false);
      // Deletes are bound the same way.
      await expect(c.handle.delete('slow')).rejects.toMatchObject({ code: 'TOOL_UNAVAILABLE' });
    } finally {
      await release();
    }
    expect(await state.get(agentId, 'slow')).toMatchObject({ value: 'before', version: 1 });
  });
});
