import { Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSnapshot {
  state: BreakerState;
  /** Consecutive failures that open it. */
  failures: number;
  halfOpenAfterMs: number;
  /** While open: how long until a probe call is let through. */
  retryAfterMs?: number;
}

/** A failure after the caller went away (cancelled, disconnected): says nothing about the tool's health. */
class CallerGone extends Error {
  constructor(readonly original: unknown) {
    super('caller went away');
  }
}

/** Which thrown errors count against a breaker: anything unexpected, transient failures and timeouts. */
export function isBreakerFailure(error: unknown): boolean {
  if (error instanceof CallerGone) return false;
  if (!(error instanceof DomainError)) return true;
  return error.code === 'TOOL_UNAVAILABLE' || error.code === 'TOOL_TIMEOUT';
}

interface Breaker {
  policy: CircuitBreakerPolicy;
  failures: number;
  halfOpenAfterMs: number;
  openedAt: number;
}

export interface BreakerSettings {
  failures?: number;
  halfOpenAfterMs?: number;
}

/**
 * One cockatiel circuit breaker per tool version, in this process (state is per replica: each replica learns
 * on its own that a dependency is down, after `failures` calls). Closed → open after N consecutive failures →
 * after `halfOpenAfterMs` one probe call is let through (half-open): success closes it, failure re-opens it.
 */
@Injectable()
export class CircuitBreakers {
  private readonly breakers = new Map<string, Breaker>();

  constructor(
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.logger.setContext('circuit-breaker');
  }

  /**
   * Runs `fn` through the breaker of `key`; while open, fails at once with `CIRCUIT_OPEN`. Failures after
   * `callerSignal` fired (the client cancelled or disconnected) do not count against the tool.
   */
  async execute<T>(
    key: string,
    settings: BreakerSettings | undefined,
    fn: () => Promise<T>,
    callerSignal?: AbortSignal,
  ): Promise<T> {
    const breaker = this.breakerFor(key, settings);
    try {
      return await breaker.policy.execute(async () => {
        try {
          return await fn();
        } catch (error) {
          throw callerSignal?.aborted ? new CallerGone(error) : error;
        }
      });
    } catch (error) {
      if (error instanceof CallerGone) throw error.original;
      if (error instanceof BrokenCircuitError) {
        const retryAfterMs = this.retryAfterMs(breaker);
        throw new DomainError(
          'CIRCUIT_OPEN',
          `Tool ${key} is failing and temporarily switched off; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
          { retryAfterMs },
        );
      }
      throw error;
    }
  }

  snapshot(key: string, settings?: BreakerSettings): BreakerSnapshot {
    const existing = this.breakers.get(key);
    if (!existing) {
      return {
        state: 'closed',
        failures: settings?.failures ?? this.config.resilience.breakerFailures,
        halfOpenAfterMs: settings?.halfOpenAfterMs ?? this.config.resilience.breakerHalfOpenAfterMs,
      };
    }
    const state = stateName(existing.policy.state);
    return {
      state,
      failures: existing.failures,
      halfOpenAfterMs: existing.halfOpenAfterMs,
      ...(state === 'open' && { retryAfterMs: this.retryAfterMs(existing) }),
    };
  }

  private retryAfterMs(breaker: Breaker): number {
    return Math.max(0, breaker.openedAt + breaker.halfOpenAfterMs - Date.now());
  }

  private breakerFor(key: string, settings: BreakerSettings | undefined): Breaker {
    let breaker = this.breakers.get(key);
    if (breaker) return breaker;
    const failures = settings?.failures ?? this.config.resilience.breakerFailures;
    const halfOpenAfterMs = settings?.halfOpenAfterMs ?? this.config.resilience.breakerHalfOpenAfterMs;
    const policy = circuitBreaker(handleWhen(isBreakerFailure), {
      halfOpenAfter: halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(failures),
    });
    breaker = { policy, failures, halfOpenAfterMs, openedAt: 0 };
    const created = breaker;
    policy.onBreak(() => {
      created.openedAt = Date.now();
    });
    policy.onStateChange((state) => {
      const name = stateName(state);
      (name === 'open' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger))(
        { tool: key, state: name },
        'circuit breaker state changed',
      );
      this.metrics?.breakerState(key, name);
    });
    this.breakers.set(key, breaker);
    return breaker;
  }
}

function stateName(state: CircuitState): BreakerState {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half_open';
  return 'open'; // Open, or Isolated (never used here)
}
