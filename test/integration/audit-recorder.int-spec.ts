import { DataSource } from 'typeorm';
import { AuditRecorder } from '../../src/audit/audit-recorder.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

describe(`audit recorder (${databaseKind})`, () => {
  let app: App;
  let audit: AuditService;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp();
    audit = app.app.get(AuditService);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  const rowsOf = (agentId: string): Promise<Record<string, unknown>[]> =>
    db.query(`SELECT * FROM audit_event WHERE agent_id = $1 ORDER BY id`, [agentId]);

  it('is the AuditRecorder port, provided globally', () => {
    expect(app.app.get(AuditRecorder)).toBe(audit);
  });

  it('resolves record() only once the row is committed', async () => {
    await audit.record({
      kind: 'admin',
      agentId: 'rec-1',
      outcome: 'grant.create',
      detail: { target: 'bob' },
      durationMs: 1.5,
    });
    // A separate connection (the pool) sees it: it is committed, not merely queued.
    expect(await rowsOf('rec-1')).toEqual([
      expect.objectContaining({
        kind: 'admin',
        outcome: 'grant.create',
        detail: { target: 'bob' },
        duration_ms: 1.5,
      }),
    ]);
  });

  it('group-commits concurrent records: N rows, far fewer INSERT statements (one transaction per flush)', async () => {
    const n = 200;
    const before = { ...audit.stats };
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        audit.record({
          kind: 'tool_call',
          agentId: 'group',
          toolName: 'echo',
          outcome: 'success',
          requestId: `g-${i}`,
        }),
      ),
    );
    const flushes = audit.stats.flushes - before.flushes;
    expect(audit.stats.rows - before.rows).toBe(n);
    expect(flushes).toBeGreaterThanOrEqual(1);
    expect(flushes).toBeLessThan(n / 10);
    // The database agrees: rows written by one INSERT share one transaction id (xmin).
    const [{ rows, transactions }] = await db.query<{ rows: number; transactions: number }[]>(
      `SELECT count(*)::int AS rows, count(DISTINCT xmin::text)::int AS transactions
         FROM audit_event WHERE agent_id = 'group'`,
    );
    expect(rows).toBe(n);
    expect(transactions).toBe(flushes);
  });

  it('writes inside the caller transaction: rolled back with it, committed with it', async () => {
    await db
      .transaction(async (manager) => {
        await audit.recordInTransaction(manager, {
          kind: 'state_change',
          agentId: 'tx',
          outcome: 'state.set',
        });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await rowsOf('tx')).toHaveLength(0);
    await db.transaction((manager) =>
      audit.recordInTransaction(manager, { kind: 'state_change', agentId: 'tx', outcome: 'state.set' }),
    );
    expect(await rowsOf('tx')).toHaveLength(1);
  });

  it('stores hostile strings safely and never lets one bad row fail its neighbours', async () => {
    await Promise.all([
      audit.record({
        kind: 'tool_call',
        agentId: 'hostile',
        toolName: `x\u0000${'y'.repeat(5000)}`,
        outcome: 'unknown_tool',
      }),
      audit.record({
        kind: 'tool_call',
        agentId: 'hostile',
        outcome: 'success',
        detail: { 'k\u0000': 'v\u0000' },
      }),
    ]);
    const rows = await rowsOf('hostile');
    expect(rows).toHaveLength(2);
    expect((rows[0].tool_name as string).length).toBeLessThanOrEqual(512);
    expect(rows[0].tool_name).not.toContain('\u0000');
  });

  it('stores every value exactly as given, whatever characters it holds (one array parameter per column)', async () => {
    const awkward = `a "quoted" \\back\\slash, {braced}, NULL, 'single', tab\tnew\nline, ünï ☃ 🚀`;
    const events = [
      { userAgent: awkward, detail: { text: awkward, list: [1, '2', null], nested: { '"k"': '{}' } } },
      { userAgent: 'NULL', detail: { text: '' }, errorCode: '' },
      { userAgent: undefined, detail: undefined, durationMs: 0.125, paramBytes: 0 },
    ];
    await Promise.all(
      events.map((event, i) =>
        audit.record({
          kind: 'tool_call',
          agentId: 'awkward',
          outcome: 'success',
          requestId: `aw-${i}`,
          ...event,
        }),
      ),
    );
    const rows = await rowsOf('awkward');
    expect(rows.sort((a, b) => String(a.request_id).localeCompare(String(b.request_id)))).toEqual(
      events.map(
        (event) =>
          expect.objectContaining({
            user_agent: event.userAgent ?? null,
            detail: event.detail ?? null,
            error_code: event.errorCode ?? null,
            duration_ms: event.durationMs ?? null,
            param_bytes: event.paramBytes ?? null,
          }) as unknown,
      ),
    );
  });

  it('fails only the row the database refuses, not the rest of its batch', async () => {
    // Every value is sanitised to what PostgreSQL accepts (a byte count beyond int4 is stored as unknown), so only
    // a row no caller can make is refused: a `kind` the CHECK constraint does not allow.
    const results = await Promise.allSettled([
      audit.record({ kind: 'tool_call', agentId: 'isolate', outcome: 'success', requestId: 'ok-1' }),
      audit.record({ kind: 'bogus' as 'admin', agentId: 'isolate', outcome: 'success' }),
      audit.record({
        kind: 'tool_call',
        agentId: 'isolate',
        outcome: 'success',
        requestId: 'ok-2',
        paramBytes: 2 ** 40,
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect((await rowsOf('isolate')).map((r) => [r.request_id, r.param_bytes])).toEqual([
      ['ok-1', null],
      ['ok-2', null],
    ]);
  });

  it('refuses updates: the table is append-only', async () => {
    await audit.record({ kind: 'admin', agentId: 'immutable', outcome: 'x' });
    await expect(
      db.query(`UPDATE audit_event SET outcome = 'y' WHERE agent_id = 'immutable'`),
    ).rejects.toThrow(/append-only/);
  });
});

describe(`audit recorder shutdown (${databaseKind})`, () => {
  it('flushes every pending row before the app closes', async () => {
    const first = await startApp();
    const audit = first.app.get(AuditService);
    const pending = Array.from({ length: 300 }, (_, i) =>
      audit.record({ kind: 'admin', agentId: 'shutdown', outcome: 'x', requestId: `s-${i}` }),
    );
    expect(audit.queueDepth).toBe(300); // nothing flushed yet: the first flush starts on the next loop turn
    await first.stop();
    await Promise.all(pending);

    const second = await startApp({ reuse: first });
    try {
      const [{ n }] = await second.app
        .get(DataSource)
        .query<{ n: number }[]>(
          `SELECT count(DISTINCT request_id)::int AS n FROM audit_event WHERE agent_id = 'shutdown'`,
        );
      expect(n).toBe(300);
    } finally {
      await second.close();
    }
  });
});
