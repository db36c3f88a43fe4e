import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { outageLog } from '../../common/logging/outage-log.js';
import { AppConfig } from '../../config/app-config.js';
import { notSent } from '../../database/write-outcome.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolDefinition, ToolResult } from '../tool.types.js';
import { IDEMPOTENCY_KEY_META } from './idempotency.step.js';

/** `_meta` key on a result that needed more than one attempt: how many it took. */
export const ATTEMPTS_META = 'mcp-production/attempts';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxElapsedMs: number;
}

/**
 * Retries transient failures, and only for calls that are safe to repeat: the tool declares
 * `annotations.idempotentHint: true` or a `retry` policy, or the call carries an idempotency key
 * (`_meta["mcp-production/idempotency-key"]`). Anything else runs exactly once. Exponential backoff with full
 * jitter, bounded by attempts (RETRY_MAX_ATTEMPTS) and total time (RETRY_MAX_ELAPSED_MS, and the call's
 * timeout, whose signal also cuts a backoff short). An attempt whose state writes changed something, or may have
 * (OUTCOME_UNKNOWN), is never repeated: the caller must reconcile first.
 */
@Injectable()
export class RetryStep implements ToolStep {
  constructor(private readonly config: AppConfig) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const policy = this.policyFor(invocation);
    if (!policy) return next();
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await next();
        return attempt === 1 ? result : { ...result, _meta: { ...result._meta, [ATTEMPTS_META]: attempt } };
      } catch (error) {
        const { signal, logger } = invocation.ctx;
        if (!isTransient(error) || attempt >= policy.attempts || signal.aborted) throw error;
        if (invocation.writes?.mayHaveChanged) throw error;
        const delayMs = backoffMs(attempt, policy);
        if (Date.now() - started + delayMs > policy.maxElapsedMs) throw error;
        // During an outage: one line per cause per interval, not one per retry (OutageLog).
        outageLog.report(logger, error, 'transient tool failure; retrying', { attempt, delayMs }, 'warn');
        if (!(await sleep(delayMs, signal))) throw error;
      }
    }
  }

  /** The retry policy of this call, or undefined when it must not be retried. */
  policyFor({ tool, call }: ToolInvocation): RetryPolicy | undefined {
    const { retry } = tool as ToolDefinition;
    if (retry === false) return undefined;
    const declared = retry !== undefined || tool!.annotations?.idempotentHint === true;
    const keyed = typeof call.meta?.[IDEMPOTENCY_KEY_META] === 'string';
    if (!declared && !keyed) return undefined;
    const r = this.config.resilience;
    return {
      attempts: retry?.attempts ?? r.retryMaxAttempts,
      baseDelayMs: retry?.baseDelayMs ?? r.retryBaseDelayMs,
      maxDelayMs: retry?.maxDelayMs ?? r.retryMaxDelayMs,
      maxElapsedMs: r.retryMaxElapsedMs,
    };
  }
}

/** Full jitter: uniform in [0, min(max, base·2^(attempt-1))] (spreads retries of many callers apart). */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(Math.random() * ceiling);
}

/**
 * SQLSTATEs worth a retry: serialization failure, deadlock, lock timeout, statement timeout (query canceled),
 * shutdown, too many connections. Each means the statement's transaction did not commit.
 */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300']);
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/**
 * Is this failure transient (worth repeating)? `TransientError` (code TOOL_UNAVAILABLE) or any error with
 * `transient: true`; PostgreSQL errors of the classes above or class 08 (connection exception), also wrapped in
 * TypeORM's `QueryFailedError`; dropped sockets and unanswered statements (ETIMEDOUT); no pooled connection in time.
 * Every other domain error is a definite answer (OUTCOME_UNKNOWN above all: never repeated on its own).
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof DomainError) return error.code === 'TOOL_UNAVAILABLE';
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    transient?: unknown;
    code?: unknown;
    driverError?: { code?: unknown };
    message?: unknown;
  };
  if (e.transient === true || notSent(error)) return true;
  for (const code of [e.code, e.driverError?.code]) {
    if (typeof code !== 'string') continue;
    if (TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_SOCKET_CODES.has(code))
      return true;
  }
  return typeof e.message === 'string' && /Connection terminated unexpectedly/.test(e.message);
}

/** Resolves true after `ms`, or false as soon as `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
