import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { outageLog } from '../common/logging/outage-log.js';
import { toStorableText } from '../common/storable-text.js';
import { AppConfig } from '../config/app-config.js';
import { GroupCommit } from '../database/group-commit.js';
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
  protocol_version: 'varchar',
  flow_id: 'uuid',
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
/** The same for one row, answering its id (an admin action names its audit row). */
const INSERT_ROW_RETURNING_ID = `${INSERT_ROWS.text} RETURNING id::text AS id`;

/** `$first::timestamptz[], $first+1::text[], …`: one array parameter per column. */
function arrayParams(first: number): string {
  return COLUMNS.map((column, i) => `$${first + i}::${COLUMN_TYPES[column]}[]`).join(', ');
}

/** Rows as one array per column (the parameters of `arrayParams`). */
function columnsOf(rows: Row[]): unknown[][] {
  return COLUMNS.map((_column, c) => rows.map((row) => row[c]));
}

type Row = unknown[];

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
 * Group commit (`GroupCommit`): rows recorded in the same turn of the event loop (concurrent requests whose I/O
 * completed together) wait for its end; a flush then writes everything queued (up to `MAX_BATCH`) as ONE
 * multi-row INSERT, i.e. one round trip and one commit for the whole group. A flush starts when none is in
 * progress, or as soon as a full batch is waiting; rows that arrive during a flush go out together in the next.
 * If the database fails, every caller in the batch gets `AUDIT_UNAVAILABLE` (fail closed); a row the database
 * refuses is isolated by bisection so it cannot fail its neighbours. Every row is sanitised to what PostgreSQL
 * accepts first (`toRow`), so such a row is a bug, not an input.
 */
@Injectable()
export class AuditService extends AuditRecorder implements BeforeApplicationShutdown {
  private readonly observers: ((report: FlushReport) => void)[] = [];
  private readonly flushes = new GroupCommit<Row, undefined>((rows) => this.insert(rows), {
    maxBatch: MAX_BATCH,
    maxInFlight: MAX_IN_FLIGHT,
    coalesce: true,
    failure: unavailable,
    // The log says why, once per outage cause (not once per flush).
    onFailure: (rows, error) => outageLog.report(this.logger, error, 'audit flush failed', { rows }),
    onGroup: (group) => this.notify({ rows: group.writes, seconds: group.seconds, ok: group.ok }),
  });

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
    return this.flushes.queued;
  }

  /**
   * Counters for tests and diagnostics: `flushes` counts group commits, `statements` every INSERT issued for
   * `record()` (a flush is one, unless a refused row has to be isolated).
   */
  get stats() {
    const { groups, writes, largestGroup, ...rest } = this.flushes.stats;
    return { flushes: groups, rows: writes, largestBatch: largestGroup, ...rest };
  }

  /** Called after every flush (latency, size, success). */
  onFlush(observer: (report: FlushReport) => void): void {
    this.observers.push(observer);
  }

  record(
    event: AuditEventInput,
    deadline = Date.now() + this.config.database.answerTimeoutMs,
  ): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    // Never throws: whatever the event holds, the row is one PostgreSQL accepts. Bounded wait (issue #15 §4): at
    // its deadline the caller stops waiting; a row still queued is withdrawn (never written), one in flight may
    // still commit.
    return this.flushes.submit(toRow(event), { deadline });
  }

  async recordInTransaction(manager: EntityManager, event: AuditEventInput): Promise<void> {
    await this.insertInTransaction(manager, event);
  }

  /**
   * Writes the row inside the caller's transaction and answers its id (undefined when the trail is off), for an
   * action that must commit together with its row and name it in its answer (admin actions, AdminAudit).
   */
  async insertInTransaction(manager: EntityManager, event: AuditEventInput): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    try {
      const rows: { id: string }[] = await manager.query(INSERT_ROW_RETURNING_ID, columnsOf([toRow(event)]));
      return rows[0].id;
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
  drain(): Promise<void> {
    return this.flushes.drain();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const pending = this.flushes.queued + this.flushes.inFlight;
    await this.drain();
    if (pending) this.logger.info({ pending }, 'audit queue flushed at shutdown');
  }

  /** A flush: one INSERT, whatever the number of rows. */
  private async insert(rows: Row[]): Promise<undefined[]> {
    await this.sql.rows(INSERT_ROWS, columnsOf(rows));
    return rows.map(() => undefined);
  }

  private notify(report: FlushReport): void {
    for (const observer of this.observers) {
      try {
        observer(report);
      } catch (error) {
        this.logger.warn({ err: error }, 'audit flush observer failed');
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

/** Longest text stored per column: callers may pass attacker-chosen strings (e.g. an unknown tool's name). */
const MAX_TEXT = 512;
/** Deepest nesting kept in `detail`: beyond any arguments the pipeline accepts (64 levels) and their wrapping. */
const MAX_DETAIL_DEPTH = 100;
const TOO_DEEP = '[nested too deep]';
const INT4_MAX = 2_147_483_647;
/** `protocol_version` is varchar(32); `flow_id` a uuid (the pipeline makes them with randomUUID). */
const MAX_PROTOCOL_VERSION = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The row as PostgreSQL accepts it, whatever the event holds; never throws. In every text column and in every
 * string and key of `detail`, NUL and unpaired UTF-16 surrogates (which text and jsonb refuse) become U+FFFD;
 * texts are cut at MAX_TEXT characters; numbers that are not finite, and byte counts int4 cannot hold, are null;
 * `detail` keeps JSON values only (a BigInt as a string, a Date as its ISO time), at most MAX_DETAIL_DEPTH deep.
 */
function toRow(e: AuditEventInput): Row {
  return [
    e.occurredAt instanceof Date && Number.isFinite(e.occurredAt.getTime()) ? e.occurredAt : new Date(),
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
    byteCount(e.paramBytes),
    byteCount(e.resultBytes),
    text(e.paramsSha256),
    text(e.remoteAddr),
    text(e.userAgent),
    detailJson(e.detail),
    text(e.protocolVersion, MAX_PROTOCOL_VERSION),
    typeof e.flowId === 'string' && UUID.test(e.flowId) ? e.flowId : null,
  ];
}

function text(value: string | undefined, max = MAX_TEXT): string | null {
  if (typeof value !== 'string') return null;
  return toStorableText(value.length > max ? `${value.slice(0, max - 1)}…` : value);
}

function finite(value: number | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A size for an int4 column: unknown (null) when it does not fit. */
function byteCount(value: number | undefined): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= INT4_MAX
    ? value
    : null;
}

function detailJson(detail: Record<string, unknown> | undefined): string | null {
  if (detail === undefined) return null;
  try {
    return JSON.stringify(storable(detail, 0)) ?? null;
  } catch {
    return JSON.stringify({ unserializable: true }); // a throwing getter, or more text than a string can hold
  }
}

/** `value` as jsonb stores it (see `toRow`); undefined for what JSON leaves out (undefined, functions, symbols). */
function storable(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : null;
  if (depth >= MAX_DETAIL_DEPTH) return TOO_DEEP; // also ends a cycle
  if (Array.isArray(value)) return value.map((item) => storable(item, depth + 1) ?? null);
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, item]) => {
      const kept = storable(item, depth + 1);
      return kept === undefined ? [] : [[toStorableText(key), kept]];
    }),
  );
}
