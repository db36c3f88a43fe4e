import type { PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { DomainError } from '../common/domain-error.js';
import { loadConfig } from '../config/app-config.js';
import type { HotSql, Statement } from '../database/hot-sql.js';
import type { AuditEventInput } from './audit-recorder.js';
import { AuditService } from './audit.service.js';

/**
 * A strict fake of the database for the audit INSERT: it counts statements, commits a statement's rows only when
 * none of them is refused, and refuses (SQLSTATE 23514, as a CHECK constraint would) every row of an agent named
 * `bad…`; with `down` set it fails like a lost connection.
 */
class FakeDatabase {
  statements = 0;
  readonly committed: string[] = [];
  down = false;
  /** Go down after this many more statements. */
  downAfter = Infinity;

  /** Statements wait for this before they answer. */
  answer = Promise.resolve();

  async rows(statement: Statement, values: unknown[]): Promise<never[]> {
    expect(statement.name).toBe('audit_insert_rows');
    this.statements++;
    await this.answer;
    if (this.down || this.downAfter-- <= 0) throw Object.assign(new Error('Connection terminated'), {});
    const agents = values[2] as string[]; // one array per column; agent_id is the third
    if (agents.some((a) => a.startsWith('bad')))
      throw Object.assign(new pg.DatabaseError('new row violates check constraint', 0, 'error'), {
        code: '23514',
      });
    this.committed.push(...agents);
    return Promise.resolve([]);
  }
}

const quietLogger = { setContext() {}, info() {}, warn() {}, error() {} } as unknown as PinoLogger;

function setup() {
  const db = new FakeDatabase();
  const audit = new AuditService(db as unknown as HotSql, loadConfig({}), quietLogger);
  return { db, audit };
}

const event = (agentId: string): AuditEventInput => ({ kind: 'tool_call', agentId, outcome: 'success' });

/** Records `agents` in one turn of the event loop (one flush) and reports how each record() ended. */
async function recordAll(audit: AuditService, agents: string[]) {
  const outcomes = await Promise.allSettled(agents.map((a) => audit.record(event(a))));
  return outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as DomainError).code));
}

const log2 = (n: number) => Math.ceil(Math.log2(n));

describe('AuditService: a row the database refuses', () => {
  it.each([2, 3, 7, 64, 100, 500])(
    'among %i rows is isolated in at most ⌈log₂ n⌉ + 1 statements after the failed flush, at any position',
    async (n) => {
      for (const position of new Set([0, 1, n >> 1, n - 2, n - 1].filter((p) => p >= 0 && p < n))) {
        const { db, audit } = setup();
        const agents = Array.from({ length: n }, (_, i) => (i === position ? 'bad' : `good-${i}`));
        const outcomes = await recordAll(audit, agents);
        expect(outcomes).toEqual(agents.map((a) => (a === 'bad' ? 'AUDIT_UNAVAILABLE' : 'ok')));
        expect(db.committed.sort()).toEqual(agents.filter((a) => a !== 'bad').sort()); // each exactly once
        expect(db.statements - 1).toBeLessThanOrEqual(log2(n) + 1);
      }
    },
  );

  it('isolates several refused rows in at most k·(⌈log₂ n⌉ + 1) statements after the failed flush', async () => {
    const n = 500;
    const bad = new Set([3, 250, 251, 499]);
    const { db, audit } = setup();
    const agents = Array.from({ length: n }, (_, i) => (bad.has(i) ? `bad-${i}` : `good-${i}`));
    const outcomes = await recordAll(audit, agents);
    expect(outcomes.filter((o) => o === 'AUDIT_UNAVAILABLE')).toHaveLength(bad.size);
    expect(db.committed).toHaveLength(n - bad.size);
    expect(db.statements - 1).toBeLessThanOrEqual(bad.size * (log2(n) + 1));
  });

  it('fails every row still unwritten, without more statements, when the database goes away meanwhile', async () => {
    const { db, audit } = setup();
    db.downAfter = 2; // the failed flush, one bisection step, then the connection is gone
    const agents = Array.from({ length: 100 }, (_, i) => (i === 70 ? 'bad' : `good-${i}`));
    const outcomes = await recordAll(audit, agents);
    expect(db.statements).toBe(3);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(db.committed.length);
    expect(outcomes.filter((o) => o === 'AUDIT_UNAVAILABLE')).toHaveLength(100 - db.committed.length);
  });

  it('does not bisect when the database is down: one statement, every row fails', async () => {
    const { db, audit } = setup();
    db.down = true;
    const outcomes = await recordAll(
      audit,
      Array.from({ length: 50 }, (_, i) => `good-${i}`),
    );
    expect(db.statements).toBe(1);
    expect(new Set(outcomes)).toEqual(new Set(['AUDIT_UNAVAILABLE']));
  });
});

describe('AuditService: group commit', () => {
  it('coalesces the rows of one event-loop turn into one flush, and reports each flush', async () => {
    const { db, audit } = setup();
    const reports: unknown[] = [];
    audit.onFlush((report) => reports.push(report));
    const rows = Array.from({ length: 20 }, (_, i) => audit.record(event(`good-${i}`)));
    expect(audit.queueDepth).toBe(20); // nothing is sent before the turn ends
    await Promise.all(rows);
    expect(db.statements).toBe(1);
    expect(reports).toEqual([{ rows: 20, seconds: expect.any(Number), ok: true }]);
    expect(audit.stats).toEqual({ flushes: 1, statements: 1, rows: 20, largestBatch: 20, failures: 0 });
  });

  it('withdraws a row still queued at its deadline: AUDIT_UNAVAILABLE, never written', async () => {
    const { db, audit } = setup();
    let answer = () => {};
    db.answer = new Promise<void>((resolve) => (answer = resolve));
    const first = audit.record(event('first'));
    await new Promise((resolve) => setImmediate(resolve)); // its flush is running
    const late = audit.record(event('late'), Date.now() + 10);
    await expect(late).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    answer();
    await first;
    await audit.drain();
    expect(db.committed).toEqual(['first']);
    expect(db.statements).toBe(1);
  });
});
