import { DataSource } from 'typeorm';
import type { AuditEventInput } from '../../src/audit/audit-recorder.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

/**
 * Issue #15 class 3c on the real database: a row PostgreSQL refuses (here: a `kind` its CHECK constraint does not
 * allow, which no caller can send, since sanitising makes every text storable) fails alone, and isolating it costs
 * at most ⌈log₂ n⌉ + 1 statements after the failed group-commit flush, not one INSERT per row (the unit test in
 * src/audit/audit.service.spec.ts counts every statement, failed ones included).
 */
describe(`audit group commit isolates a refused row by bisection (${databaseKind})`, () => {
  let app: App;
  let audit: AuditService;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp();
    audit = app.app.get(AuditService);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  it('writes the 255 good rows of a 256-row flush in ≤ ⌈log₂ 256⌉ + 1 transactions, and refuses the bad one', async () => {
    await audit.drain();
    const n = 256;
    const events: AuditEventInput[] = Array.from({ length: n }, (_, i) => ({
      kind: i === 100 ? ('bogus' as AuditEventInput['kind']) : 'tool_call',
      agentId: 'bisect',
      requestId: `bisect-${i}`,
      outcome: 'success',
    }));
    const outcomes = await Promise.allSettled(events.map((e) => audit.record(e)));

    expect(outcomes[100]).toMatchObject({ status: 'rejected', reason: { code: 'AUDIT_UNAVAILABLE' } });
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(n - 1);
    // Rows written by one INSERT share its transaction id (xmin): the database's own count of the statements that
    // wrote them (one per row before bisection).
    const [{ rows, transactions }] = await db.query<{ rows: number; transactions: number }[]>(
      `SELECT count(*)::int AS rows, count(DISTINCT xmin::text)::int AS transactions
         FROM audit_event WHERE agent_id = 'bisect'`,
    );
    expect(rows).toBe(n - 1);
    expect(transactions).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 1);
  });
});
