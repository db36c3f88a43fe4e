import { DomainError, type ErrorCode } from '../domain-error.js';

/** What `OutageLog` writes to: a pino logger, nestjs-pino's PinoLogger and Nest's Logger all fit. */
export interface FailureLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Network errors of a dependency (PostgreSQL, Redis, the IdP): refused, reset, unreachable, timed out. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'ERR_JWKS_TIMEOUT',
]);

/**
 * SQLSTATEs of an unavailable database (not of a bad statement or bad data): connection exceptions (class 08),
 * too many connections, server shut down or starting up, statement or lock timeout, and a read-only server (25006:
 * a standby after a failover, until the connection reaches the new primary).
 */
const OUTAGE_SQLSTATE = /^(08...|53300|57P0[1-4]|57014|55P03|25006)$/;

/** Messages of the pg driver and ioredis for a lost or unobtainable connection (they carry no code). */
const OUTAGE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable|Connection is closed\.?|Stream isn't writeable and enableOfflineQueue options is false|Reached the max retries per request limit.*)$/;

/** Our own answers to an outage (or a drain): the dependency's error, if any, is their `cause`. */
const OUTAGE_CODES = new Set<ErrorCode>([
  'AUDIT_UNAVAILABLE',
  'AUTH_UNAVAILABLE',
  'RATE_LIMIT_UNAVAILABLE',
  'TOOL_UNAVAILABLE',
  'TOOL_TIMEOUT',
  'CIRCUIT_OPEN',
  'SHUTTING_DOWN',
]);

/**
 * A short, stable name for the dependency outage behind `error`, or undefined when it is something else (a bug,
 * a bad input, a constraint). Follows `cause`, TypeORM's `driverError` and AggregateError's `errors`.
 * Examples: `ECONNREFUSED 127.0.0.1:5432`, `SQLSTATE 57P01`, `Connection terminated unexpectedly`.
 */
export function outageCause(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const pending = [error];
  let ours: string | undefined;
  for (let next = pending.shift(); next !== undefined && seen.size < 10; next = pending.shift()) {
    if (next === null || typeof next !== 'object' || seen.has(next)) continue;
    seen.add(next);
    const { code, message, address, port, cause, driverError, errors } = next as Record<string, unknown>;
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code))
        return typeof address === 'string' ? `${code} ${address}:${String(port)}` : code;
      if (OUTAGE_SQLSTATE.test(code)) return `SQLSTATE ${code}`;
    }
    if (typeof message === 'string' && OUTAGE_MESSAGE.test(message)) return message;
    if (next instanceof DomainError && OUTAGE_CODES.has(next.code)) ours ??= next.code;
    const causes: unknown[] = [cause, driverError, ...(Array.isArray(errors) ? (errors as unknown[]) : [])];
    pending.push(...causes.filter(Boolean));
  }
  return ours;
}

/**
 * Logs failures so that an outage cannot flood the log. An expected dependency-outage error (see `outageCause`)
 * is logged at most once per cause per interval, at warn, as one line without a stack trace, saying how many
 * lines of that cause were suppressed since the previous one; anything else (a bug) is logged in full, every
 * time, at `level` (default error). A 10 s database outage under load thus writes a line or two per cause, not one per call.
 * One instance serves the whole process (`outageLog`), so the budget holds across every place that reports.
 */
export class OutageLog {
  private readonly causes = new Map<string, { next: number; suppressed: number }>();

  constructor(
    readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  report(
    logger: FailureLogger,
    error: unknown,
    message: string,
    fields: Record<string, unknown> = {},
    level: 'error' | 'warn' = 'error',
  ): void {
    const cause = outageCause(error);
    if (cause === undefined) return logger[level]({ ...fields, err: error }, message);
    const text = (error as { message?: unknown } | null)?.message;
    this.warnOnce(logger, cause, message, {
      ...fields,
      error: typeof text === 'string' ? text : String(error),
    });
  }

  /** A warning about an outage whose cause the caller knows: at most one line per cause per interval. */
  warnOnce(
    logger: FailureLogger,
    cause: string,
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    const now = this.now();
    const budget = this.causes.get(cause);
    if (budget && now < budget.next) {
      budget.suppressed++;
      return;
    }
    this.causes.set(cause, { next: now + this.intervalMs, suppressed: 0 });
    logger.warn(
      { ...fields, cause, ...(budget?.suppressed && { suppressed: budget.suppressed }) },
      `${message}: dependency unavailable`,
    );
  }
}

/** The process's one outage log. */
export const outageLog = new OutageLog();
