import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { AuditRecorder, type AuditEventInput, type AuditInsert } from './audit-recorder.js';

/** Rows per INSERT (one array parameter per column, so the row count is not bounded by bind parameters). */
export const MAX_BATCH = 500;
/** A full batch may start while another is being written; beyond this, rows wait for a flush to finish. */
const MAX_IN_FLIGHT = 4;

/** Columns of `audit_event` written by this service, with their types (casts for `INSERT … SELECT $n`). */
const COLUMN_TYPES = {
  occurred_at: 'timestamptz',
  kind: 'text',
  agent_id: 'text',
  client_id: 'text',
  request_id: 'text',
  session_id: 'text',
  tool_name: 'text',
  tool_version: 'text',
  outcome: 'text',
  error_code: 'text',
  duration_ms: 'float8',
  param_bytes: 'int4',
  result_bytes: 'int4',
  params_sha256: 'text',
  remote_addr: 'text',
  user_agent: 'text',
  detail: 'jsonb',
} as const;
const COLUMNS = Object.keys(COLUMN_TYPES) as (keyof typeof COLUMN_TYPES)[];

/**
 * The INSERT of any number of rows: one array per column, so the text is the same whatever the number of rows, and
 * a group commit's statement is prepared once per connection (HotSql) instead of parsed and planned on every flush.
 * Also the one row written inside a caller's transaction.
 */
const INSERT_ROWS: Statement = {
  name: 'audit_insert_rows',
  text: `INSERT INTO audit_event (${COLUMNS.join(', ')})
         SELECT * FROM unnest(${arrayParams(1)})`,
};

/** `$first::timestamptz[], $first+1::text[], …`: one array parameter per column. */
function arrayParams(first: number): string {
  return COLUMNS.map((column, i) => `$${first + i}::${COLUMN_TYPES[column]}[]`).join(', ');
}

/** Rows as one array per column (the parameters of `arrayParams`). */
function columnsOf(rows: Row[]): unknown[][] {
  return COLUMNS.map((_column, c) => rows.map((row) => row[c]));
}

type Row = unknown[];
interface Pending {
  row: Row;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** What a flush reports to observers (metrics). */
export interface FlushReport {
  rows: number;
  seconds: number;
  ok: boolean;
}

/**
 * The durable audit trail (implements the `AuditRecorder` port). `record()` resolves only once its row is
 * committed, so a caller that waits for it never acknowledges an unaudited action.
 *
 * Group commit: rows wait in a small in-process queue; a flush writes everything queued (up to `MAX_BATCH`) as
 * ONE multi-row INSERT, i.e. one round trip and one commit for the whole group. A flush starts when none is in
 * progress, or as soon as a full batch is waiting; rows that arrive during a flush go out together in the next.
 * If the database fails, every caller in the batch gets `AUDIT_UNAVAILABLE` (fail closed); a row the database
 * rejects as data (class 22/23) is isolated so it cannot fail its neighbours.
 */
@Injectable()
export class AuditService extends AuditRecorder implements BeforeApplicationShutdown {
  private queue: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  private readonly observers: ((report: FlushReport) => void)[] = [];
  /** Counters for tests and diagnostics: flushes is the number of INSERT statements issued by `record()`. */
  readonly stats = { flushes: 0, rows: 0, largestBatch: 0, failures: 0 };

  constructor(
    private readonly sql: HotSql,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext('audit');
  }

  get enabled(): boolean {
    return this.config.audit.enabled;
  }

  /** Rows accepted but not yet committed. */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** Called after every flush (latency, size, success). */
  onFlush(observer: (report: FlushReport) => void): void {
    this.observers.push(observer);
  }

  record(event: AuditEventInput): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    let row: Row;
    try {
      row = toRow(event); // e.g. a `detail` JSON cannot represent (a cycle, a BigInt)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.schedule();
    });
  }

  async recordInTransaction(manager: EntityManager, event: AuditEventInput): Promise<void> {
    if (!this.enabled) return;
    try {
      await manager.query(INSERT_ROWS.text, columnsOf([toRow(event)]));
    } catch (error) {
      throw unavailable(error);
    }
  }

  insertPerRow(
    source: string,
    events: AuditEventInput[],
    first: number,
    detail: (expression: string) => string = (expression) => expression,
  ): AuditInsert | undefined {
    if (!this.enabled) return undefined;
    const select = COLUMNS.map((column) => (column === 'detail' ? detail('e.detail') : `e.${column}`));
    return {
      sql: `INSERT INTO audit_event (${COLUMNS.join(', ')})
            SELECT ${select.join(', ')}
            FROM ${source} JOIN unnest(${arrayParams(first)}) WITH ORDINALITY AS e(${COLUMNS.join(', ')}, n) USING (n)`,
      values: columnsOf(events.map(toRow)),
    };
  }

  /** Writes every pending row; resolves when the queue is empty and no flush is running. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.startFlushes(true);
      await Promise.allSettled([...this.inFlight]);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    const pending = this.queue.length + this.inFlight.size;
    await this.drain();
    if (pending) this.logger.info({ pending }, 'audit queue flushed at shutdown');
  }

  /**
   * Coalesces everything recorded in the same turn of the event loop (concurrent requests whose I/O completed
   * together) before the first flush; later arrivals batch behind the flush in progress.
   */
  private schedule(): void {
    if (this.queue.length >= MAX_BATCH) this.startFlushes(false);
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startFlushes(false);
    });
  }

  private startFlushes(force: boolean): void {
    while (
      this.queue.length > 0 &&
      (this.inFlight.size === 0 ||
        ((force || this.queue.length >= MAX_BATCH) && this.inFlight.size < MAX_IN_FLIGHT))
    ) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const flush = this.flush(batch).finally(() => {
        this.inFlight.delete(flush);
        if (this.queue.length > 0) this.startFlushes(false);
      });
      this.inFlight.add(flush);
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    this.stats.flushes++;
    this.stats.rows += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let ok = true;
    try {
      await this.insert(batch.map((p) => p.row));
      for (const p of batch) p.resolve();
    } catch (error) {
      ok = false;
      this.stats.failures++;
      if (batch.length > 1 && isDataError(error)) {
        await this.isolate(batch);
      } else {
        this.logger.error({ err: error, rows: batch.length }, 'audit flush failed');
        for (const p of batch) p.reject(unavailable(error));
      }
    }
    const report = { rows: batch.length, seconds: (performance.now() - started) / 1000, ok };
    for (const observer of this.observers) {
      try {
        observer(report);
      } catch (error) {
        this.logger.warn({ err: error }, 'audit flush observer failed');
      }
    }
  }

  private async insert(rows: Row[]): Promise<void> {
    await this.sql.rows(INSERT_ROWS, columnsOf(rows));
  }

  /** One row at a time, so that a row the database refuses fails alone. */
  private async isolate(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        await this.insert([p.row]);
        p.resolve();
      } catch (error) {
        this.logger.error({ err: error }, 'audit row rejected by the database');
        p.reject(unavailable(error));
      }
    }
  }
}

function unavailable(cause: unknown): DomainError {
  const error = new DomainError(
    'AUDIT_UNAVAILABLE',
    'The audit trail is unavailable, so this action cannot be acknowledged; retry later',
  );
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint): the row, not the database, is at fault. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Longest text stored per column: callers may pass attacker-chosen strings (e.g. an unknown tool's name). */
const MAX_TEXT = 512;

function toRow(e: AuditEventInput): Row {
  return [
    e.occurredAt ?? new Date(),
    e.kind,
    text(e.agentId),
    text(e.clientId),
    text(e.requestId),
    text(e.sessionId),
    text(e.toolName),
    text(e.toolVersion),
    text(e.outcome) ?? 'unknown',
    text(e.errorCode),
    finite(e.durationMs),
    finite(e.paramBytes),
    finite(e.resultBytes),
    text(e.paramsSha256),
    text(e.remoteAddr),
    text(e.userAgent),
    e.detail === undefined ? null : JSON.stringify(clean(e.detail)),
  ];
}

/** PostgreSQL text cannot hold NUL; long values are cut. */
function text(value: string | undefined): string | null {
  if (value === undefined || value === null) return null;
  const safe = value.replaceAll('\u0000', '\uFFFD');
  return safe.length > MAX_TEXT ? `${safe.slice(0, MAX_TEXT - 1)}…` : safe;
}

function finite(value: number | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** jsonb refuses `\u0000` in strings and keys; replace it wherever it occurs. */
function clean(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD');
  if (Array.isArray(value)) return value.map(clean);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.replaceAll('\u0000', '\uFFFD'), clean(v)]),
    );
  }
  return value;
}
