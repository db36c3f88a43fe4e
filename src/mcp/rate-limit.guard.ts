import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { auditCallerOf, auditEvent } from '../audit/audit-event.builder.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { DomainError } from '../common/domain-error.js';
import type { WithHeaders } from '../common/http-exception.filter.js';
import { principalOf } from '../common/principal.js';
import { requestViewOf } from '../common/request-view.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RATE_LIMIT_STORAGE } from '../resilience/resilience.constants.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';

/** The limits. */
export const AGENT_LIMIT = 'agent' as const;
export const TOOL_LIMIT = 'tool' as const;
export const CONCURRENT_LIMIT = 'concurrent';
/** Both limits count calls per minute. */
export const WINDOW_MS = 60_000;

/** 429: the answer to a call over a limit. `Retry-After` (seconds) is also in the JSON-RPC error's `data`. */
export class RateLimitedError extends DomainError implements WithHeaders {
  readonly headers: Record<string, string>;

  constructor(limit: string, perMinute: number, retryAfterSeconds: number, tool?: string) {
    super(
      'RATE_LIMITED',
      `Rate limit exceeded: ${perMinute} calls per minute per ${limit === TOOL_LIMIT ? `agent for tool ${tool}` : 'agent'}; retry in ${retryAfterSeconds} s`,
      { limit, perMinute, retryAfterSeconds, ...(tool && { tool }) },
    );
    this.headers = { 'retry-after': String(retryAfterSeconds) };
  }
}

/** 429: the agent already has RATE_LIMIT_AGENT_CONCURRENT calls in flight on this replica. */
export class ConcurrencyLimitedError extends DomainError implements WithHeaders {
  /** In-flight calls end within their time budget; a second is the hint, as for RATE_LIMIT_UNAVAILABLE. */
  static readonly RETRY_AFTER_SECONDS = 1;
  readonly headers = { 'retry-after': String(ConcurrencyLimitedError.RETRY_AFTER_SECONDS) };

  constructor(maxInFlight: number) {
    super(
      'RATE_LIMITED',
      `Too many calls in flight: at most ${maxInFlight} concurrent calls per agent; retry when one has finished`,
      {
        limit: CONCURRENT_LIMIT,
        maxInFlight,
        retryAfterSeconds: ConcurrencyLimitedError.RETRY_AFTER_SECONDS,
      },
    );
  }
}

/**
 * Rate limits of `tools/call` on `POST /mcp`, keyed on the authenticated agent (never on a client-chosen
 * header): per agent (RATE_LIMIT_AGENT_PER_MINUTE, all tools together, and `resources/read`, `prompts/get` and
 * `completion/complete` too) and per agent × tool
 * (`@Tool({ rateLimit: { perMinute } })`, else RATE_LIMIT_TOOL_PER_MINUTE, else none). The tool is read from the
 * request view (a 2026-07-28 request's headers already checked against it); every version of a tool shares its
 * limit. A global guard after
 * authentication and scopes, so unauthenticated or out-of-scope traffic never touches the counters. Over a
 * limit: 429 with `Retry-After`, an audit row (`denied` / `rate_limited`) and `mcp_rate_limited_total`.
 * Counters sit behind `@nestjs/throttler`'s `ThrottlerStorage` contract: Redis when REDIS_URL is set (one limit
 * across replicas), else memory. Fixed windows of one minute, starting with their first call.
 *
 * In-flight cap: an agent may have at most RATE_LIMIT_AGENT_CONCURRENT of these calls running at once (each call
 * of a batch counts), answered like a rate limit (429, Retry-After, audited as `rate_limited`). Counted in this
 * process, like the database pool it protects: one agent cannot hold most of the pool (a per-minute limit
 * cannot: 600 calls a minute with 30 s budgets allow hundreds at once). A slot is released when the response
 * closes, however the request ends (answer, error, SSE stream end, client gone).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private lastStorageWarning = 0;
  /** Calls in flight per agent (agents with none have no entry). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    @Inject(RATE_LIMIT_STORAGE) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
    private readonly registry: ToolRegistry,
    private readonly audit: AuditRecorder,
    private readonly logger: PinoLogger,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.logger.setContext('rate-limit');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const agentId = principalOf(req).agentId;
    const calls = limitedCallsOf(req);
    const counts = calls.flatMap(({ name, tool }): Count[] => {
      const perAgent: Count = {
        limit: AGENT_LIMIT,
        key: `${AGENT_LIMIT}:${agentId}`,
        perMinute: this.config.resilience.agentPerMinute,
        tool: name,
      };
      const toolLimit = tool ? this.toolLimit(name) : undefined;
      if (toolLimit === undefined) return [perAgent];
      return [
        perAgent,
        { limit: TOOL_LIMIT, key: `${TOOL_LIMIT}:${agentId}:${name}`, perMinute: toolLimit, tool: name },
      ];
    });
    // Every counter is hit in the same turn, so the Redis storage adds them all in one round trip; the first one
    // over its limit (in call order, per agent before per tool) is the answer.
    const records = await Promise.all(
      counts.map(({ key, perMinute, limit }) =>
        this.storage.increment(key, WINDOW_MS, perMinute, 0, limit).catch((error: unknown) => ({ error })),
      ),
    );
    for (const [i, record] of records.entries()) {
      if ('error' in record) this.storageFailed(record.error);
      else if (record.isBlocked) await this.refuse(req, counts[i], record.timeToBlockExpire);
    }
    if (calls.length > 0)
      await this.holdSlots(req, context.switchToHttp().getResponse<FastifyReply>(), agentId, calls);
    return true;
  }

  /** Takes one in-flight slot per call until the response closes, or refuses the request (429). */
  private async holdSlots(req: FastifyRequest, reply: FastifyReply, agentId: string, calls: LimitedCall[]) {
    const max = this.config.resilience.agentConcurrent;
    const held = this.inFlight.get(agentId) ?? 0;
    if (held + calls.length > max) {
      const error = new ConcurrencyLimitedError(max);
      await this.denied(req, CONCURRENT_LIMIT, calls[0].name, error.details!);
      throw error;
    }
    this.inFlight.set(agentId, held + calls.length);
    const release = () => {
      const left = (this.inFlight.get(agentId) ?? 0) - calls.length;
      if (left > 0) this.inFlight.set(agentId, left);
      else this.inFlight.delete(agentId);
    };
    // 'close' comes once the response is sent or the connection is gone; a client that already left gets none.
    if (reply.raw.closed) release();
    else reply.raw.once('close', release);
  }

  /** 429 for a counter over its limit, audited. */
  private async refuse(req: FastifyRequest, { limit, perMinute, tool }: Count, timeToBlockExpire: number) {
    const retryAfterSeconds = Math.max(1, timeToBlockExpire);
    await this.denied(req, limit, tool, { limit, perMinute, retryAfterSeconds });
    throw new RateLimitedError(limit, perMinute, retryAfterSeconds, limit === TOOL_LIMIT ? tool : undefined);
  }

  /** A refusal's audit row (`denied` / `rate_limited`) and metric. */
  private async denied(req: FastifyRequest, limit: string, tool: string, detail: Record<string, unknown>) {
    this.metrics?.rateLimited(limit);
    await this.audit
      .record(
        auditEvent('denied', auditCallerOf(req), {
          name: tool,
          outcome: 'rate_limited',
          errorCode: 'RATE_LIMITED',
          detail,
        }),
      )
      .catch((err: unknown) => this.logger.error({ err }, 'could not audit a rate-limited call'));
  }

  /** The per-minute limit of one agent on one tool, or undefined when none applies. */
  private toolLimit(tool: string): number | undefined {
    const definition = this.registry.get(tool);
    // Unknown names get no counter of their own (they fail anyway); the per-agent limit still counts them.
    if (!definition) return undefined;
    return definition.rateLimit?.perMinute ?? this.config.resilience.toolPerMinute;
  }

  /** The counter store is unreachable: let the call through (`open`) or refuse it with 503 (`closed`). */
  private storageFailed(error: unknown): void {
    const closed = this.config.resilience.redisFailure === 'closed';
    if (Date.now() - this.lastStorageWarning > 10_000) {
      this.lastStorageWarning = Date.now();
      this.logger.warn(
        { err: error, policy: this.config.resilience.redisFailure },
        closed
          ? 'rate-limit store unavailable; refusing calls'
          : 'rate-limit store unavailable; calls not limited',
      );
    }
    if (closed) {
      const refused = new DomainError(
        'RATE_LIMIT_UNAVAILABLE',
        'Rate limiting is unavailable; retry shortly',
        {
          retryAfterSeconds: 1,
        },
      );
      throw Object.assign(refused, { headers: { 'retry-after': '1' } });
    }
  }
}

/** One counter a call hits: which limit, its key, its per-minute limit and the call's name. */
interface Count {
  limit: typeof AGENT_LIMIT | typeof TOOL_LIMIT;
  key: string;
  perMinute: number;
  tool: string;
}

/**
 * A call the limits count: a tool (both limits), or a resource read / prompt get / completion (the per-agent
 * limit only): every operation the pipeline runs.
 */
export interface LimitedCall {
  /** The tool name; `resource:<uri>`, `prompt:<name>` or `completion/complete` otherwise (as audited when refused). */
  name: string;
  tool: boolean;
}

/** The calls of a POST /mcp, from its request view (a JSON-RPC batch may hold several). */
export function limitedCallsOf(req: FastifyRequest): LimitedCall[] {
  const view = requestViewOf(req);
  return (view?.messages ?? (view ? [view] : [])).flatMap(({ method, name, uri }): LimitedCall[] => {
    if (method === 'tools/call' && name !== undefined) return [{ name, tool: true }];
    if (method === 'resources/read' && uri !== undefined) return [{ name: `resource:${uri}`, tool: false }];
    if (method === 'prompts/get' && name !== undefined) return [{ name: `prompt:${name}`, tool: false }];
    if (method === 'completion/complete') return [{ name: method, tool: false }];
    return [];
  });
}
