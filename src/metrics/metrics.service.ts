import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AuditService, type FlushReport } from '../audit/audit.service.js';
import { AuthFailures } from '../common/auth-failures.js';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BYTES = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
const BATCH_ROWS = [1, 2, 5, 10, 25, 50, 100, 250, 500];

/** Circuit-breaker states as gauge values (0 closed, 1 half-open, 2 open). */
export const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATE;

/** Label for tools the registry does not know: attacker-chosen names must not become label values. */
export const UNKNOWN_TOOL_LABEL = '(unknown)';

export interface ToolCallMetric {
  /** A registered tool's name, or `UNKNOWN_TOOL_LABEL`. */
  tool: string;
  version: string;
  outcome: string;
  seconds: number;
  paramBytes?: number;
  resultBytes?: number;
}

/**
 * Prometheus metrics of this app instance, in a registry of its own (never prom-client's global default, so
 * several app instances in one process do not collide). Served at `GET /metrics`. Other modules record through
 * the methods here: the tool pipeline (`toolCall`), auth (`authFailure`), resilience (`rateLimited`,
 * `breakerState`), the HTTP interceptor (`httpRequest`). Audit flushes, the audit queue and the database pool are
 * read here directly.
 */
@Injectable()
export class MetricsService implements AuthFailures {
  readonly registry = new Registry();

  private readonly toolCalls = new Counter({
    name: 'mcp_tool_calls_total',
    help: 'Tool calls by tool, tool version and outcome.',
    labelNames: ['tool', 'version', 'outcome'],
    registers: [this.registry],
  });
  private readonly toolDuration = new Histogram({
    name: 'mcp_tool_call_duration_seconds',
    help: 'Duration of tool calls through the whole pipeline (audit write included).',
    labelNames: ['tool', 'outcome'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly argumentBytes = new Histogram({
    name: 'mcp_tool_call_argument_bytes',
    help: 'Size of tool-call arguments as JSON.',
    labelNames: ['tool'],
    buckets: BYTES,
    registers: [this.registry],
  });
  private readonly resultBytes = new Histogram({
    name: 'mcp_tool_call_result_bytes',
    help: 'Size of tool-call results as JSON.',
    labelNames: ['tool'],
    buckets: BYTES,
    registers: [this.registry],
  });
  private readonly authFailures = new Counter({
    name: 'mcp_auth_failures_total',
    help: 'Requests refused by authentication or scope checks, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly rateLimitedCalls = new Counter({
    name: 'mcp_rate_limited_total',
    help: 'Requests refused by a rate limit, by limit (agent, tool, concurrent).',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  private readonly breaker = new Gauge({
    name: 'mcp_breaker_state',
    help: 'Circuit-breaker state per tool: 0 closed, 1 half-open, 2 open.',
    labelNames: ['tool'],
    registers: [this.registry],
  });
  private readonly deprecatedCalls = new Counter({
    name: 'mcp_deprecated_tool_calls_total',
    help: 'Calls to deprecated tool versions (before their sunset), by tool and version.',
    labelNames: ['tool', 'version'],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'mcp_http_request_duration_seconds',
    help: 'HTTP requests that reached a route handler, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly auditFlushDuration = new Histogram({
    name: 'mcp_audit_flush_duration_seconds',
    help: 'Latency of audit group-commit flushes (one multi-row INSERT each).',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly auditFlushRows = new Histogram({
    name: 'mcp_audit_flush_rows',
    help: 'Audit rows written per flush (group-commit batch size).',
    buckets: BATCH_ROWS,
    registers: [this.registry],
  });
  private readonly auditFlushFailures = new Counter({
    name: 'mcp_audit_flush_failures_total',
    help: 'Audit flushes that failed (their callers were refused with AUDIT_UNAVAILABLE).',
    registers: [this.registry],
  });

  constructor(dataSource: DataSource, audit: AuditService) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters (promtool lint refuses them); `nodejs_active_{handles,requests,resources}`
    // (by type) carry the same information.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      this.registry.removeSingleMetric(name);
    audit.onFlush((report) => this.auditFlush(report));
    new Gauge({
      name: 'mcp_audit_queue_depth',
      help: 'Audit rows accepted and waiting for a flush.',
      registers: [this.registry],
      collect() {
        this.set(audit.queueDepth);
      },
    });
    const pool = () => poolOf(dataSource);
    for (const [name, help, read] of [
      ['mcp_db_pool_connections', 'Open database connections in the pool.', (p: PgPool) => p.totalCount],
      ['mcp_db_pool_idle_connections', 'Idle database connections in the pool.', (p: PgPool) => p.idleCount],
      [
        'mcp_db_pool_waiting_clients',
        'Queries waiting for a database connection.',
        (p: PgPool) => p.waitingCount,
      ],
    ] as const) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const p = pool();
          if (p) this.set(read(p));
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  toolCall(m: ToolCallMetric): void {
    this.toolCalls.inc({ tool: m.tool, version: m.version, outcome: m.outcome });
    this.toolDuration.observe({ tool: m.tool, outcome: m.outcome }, m.seconds);
    if (m.paramBytes !== undefined) this.argumentBytes.observe({ tool: m.tool }, m.paramBytes);
    if (m.resultBytes !== undefined) this.resultBytes.observe({ tool: m.tool }, m.resultBytes);
  }

  /** For the auth layer: e.g. `missing_token`, `invalid_token`, `expired`, `revoked`, `insufficient_scope`. */
  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  /** For the rate limiter: which limit refused the request (`agent`, `tool`). */
  rateLimited(limit: string): void {
    this.rateLimitedCalls.inc({ limit });
  }

  /** For the circuit breaker: call on every state change. */
  breakerState(tool: string, state: BreakerState): void {
    this.breaker.set({ tool }, BREAKER_STATE[state]);
  }

  /** For the tool pipeline: a call to a deprecated (not yet sunset) tool version. */
  deprecatedCall(tool: string, version: string): void {
    this.deprecatedCalls.inc({ tool, version });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  private auditFlush(report: FlushReport): void {
    this.auditFlushDuration.observe(report.seconds);
    this.auditFlushRows.observe(report.rows);
    if (!report.ok) this.auditFlushFailures.inc();
  }
}

interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** The `pg` Pool behind TypeORM's postgres driver (`driver.master`), once the DataSource is initialised. */
function poolOf(dataSource: DataSource): PgPool | undefined {
  const master = (dataSource.driver as unknown as { master?: Partial<PgPool> }).master;
  return typeof master?.totalCount === 'number' ? (master as PgPool) : undefined;
}
