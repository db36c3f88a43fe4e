import { Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { failureCause } from './failure-attribution.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSnapshot {
  state: BreakerState;
  /** Consecutive failures that open it. */
  failures: number;
  /** Distinct agents those failures must come from (one agent counts at most ⌈failures / minAgents⌉ times). */
  minAgents: number;
  halfOpenAfterMs: number;
  /** While open: how long until a probe call is let through. */
  retryAfterMs?: number;
}

/** Which thrown errors count against a breaker: failures of the tool's dependency, never the caller's input. */
export function isBreakerFailure(error: unknown): boolean {
  return failureCause(error) === 'dependency';
}

export interface BreakerSettings {
  failures?: number;
  halfOpenAfterMs?: number;
}

/** Who is calling, and whether they are still waiting for the answer. */
export interface BreakerCaller {
  agentId: string;
  /** Fired when the caller cancelled or disconnected: a failure after that says nothing about the tool. */
  signal?: AbortSignal;
}

interface Breaker {
  state: BreakerState;
  failures: number;
  minAgents: number;
  halfOpenAfterMs: number;
  /** The current run of dependency failures (since the last success): counted failures per agent. */
  streak: Map<string, number>;
  counted: number;
  openedAt: number;
  /** Half-open: a probe call is running (the others still fail fast). */
  probing: boolean;
}

/**
 * One circuit breaker per tool version, in this process (state is per replica: each replica learns on its own
 * that a dependency is down). Closed → open after `failures` consecutive dependency failures (a success resets the
 * run; failures caused by the caller's input are neutral, see failure-attribution.ts) → after `halfOpenAfterMs`
 * one probe call is let through (half-open): success closes it, a dependency failure re-opens it, any other ending
 * lets the next call probe.
 *
 * Attribution: within a run, one agent's failures count at most ⌈failures / BREAKER_MIN_AGENTS⌉ times, so it
 * takes failures of at least BREAKER_MIN_AGENTS distinct agents to open a breaker. One agent whose calls time out
 * (a costly input, its own cancelled calls) cannot switch a tool off for everyone; an outage that every caller
 * sees still opens it. Memory per breaker is bounded by `failures` entries.
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
   * Runs `fn` through the breaker of `key`; while open, fails at once with `CIRCUIT_OPEN`. The failure is
   * attributed to `caller.agentId`; failures after `caller.signal` fired do not count.
   */
  async execute<T>(
    key: string,
    settings: BreakerSettings | undefined,
    fn: () => Promise<T>,
    caller: BreakerCaller,
  ): Promise<T> {
    const breaker = this.breakerFor(key, settings);
    const probe = this.admit(key, breaker);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      if (!caller.signal?.aborted && isBreakerFailure(error)) {
        this.failed(key, breaker, caller.agentId, probe);
      } else if (probe) {
        // No verdict on the dependency (the caller left, or its input was refused, maybe before any dependency
        // was reached): the next call probes. Only a success closes the breaker, so bad input cannot close it.
        breaker.probing = false;
      }
      throw error;
    }
    if (probe) this.transition(key, breaker, 'closed');
    else if (breaker.state === 'closed') this.resetStreak(breaker);
    return result;
  }

  snapshot(key: string, settings?: BreakerSettings): BreakerSnapshot {
    const breaker = this.breakers.get(key) ?? this.newBreaker(settings);
    if (breaker.state === 'open' && this.retryAfterMs(breaker) === 0) {
      // Due for a probe: reported as half-open (the next call probes).
      return { ...this.settingsOf(breaker), state: 'half_open' };
    }
    return {
      ...this.settingsOf(breaker),
      state: breaker.state,
      ...(breaker.state === 'open' && { retryAfterMs: this.retryAfterMs(breaker) }),
    };
  }

  /** Lets a call through (true when it is the half-open probe), or throws CIRCUIT_OPEN. */
  private admit(key: string, breaker: Breaker): boolean {
    if (breaker.state === 'closed') return false;
    if (breaker.state === 'open' && this.retryAfterMs(breaker) === 0)
      this.transition(key, breaker, 'half_open');
    if (breaker.state === 'half_open' && !breaker.probing) {
      breaker.probing = true;
      return true;
    }
    const retryAfterMs = this.retryAfterMs(breaker);
    throw new DomainError(
      'CIRCUIT_OPEN',
      `Tool ${key} is failing and temporarily switched off; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
      { retryAfterMs },
    );
  }

  private failed(key: string, breaker: Breaker, agentId: string, probe: boolean): void {
    if (probe || breaker.state !== 'closed') {
      if (probe) this.transition(key, breaker, 'open');
      return;
    }
    const share = Math.ceil(breaker.failures / breaker.minAgents);
    const mine = breaker.streak.get(agentId) ?? 0;
    if (mine >= share) return; // this agent has had its say in this run
    breaker.streak.set(agentId, mine + 1);
    breaker.counted++;
    if (breaker.counted >= breaker.failures && breaker.streak.size >= breaker.minAgents)
      this.transition(key, breaker, 'open');
  }

  private transition(key: string, breaker: Breaker, state: BreakerState): void {
    const changed = breaker.state !== state;
    breaker.state = state;
    breaker.probing = false;
    if (state === 'open') breaker.openedAt = Date.now();
    if (state !== 'half_open') this.resetStreak(breaker);
    if (!changed && state !== 'open') return;
    (state === 'open' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger))(
      { tool: key, state },
      'circuit breaker state changed',
    );
    this.metrics?.breakerState(key, state);
  }

  private resetStreak(breaker: Breaker): void {
    if (breaker.counted === 0) return;
    breaker.streak.clear();
    breaker.counted = 0;
  }

  private retryAfterMs(breaker: Breaker): number {
    return Math.max(0, breaker.openedAt + breaker.halfOpenAfterMs - Date.now());
  }

  private settingsOf({ failures, minAgents, halfOpenAfterMs }: Breaker) {
    return { failures, minAgents, halfOpenAfterMs };
  }

  private newBreaker(settings: BreakerSettings | undefined): Breaker {
    const r = this.config.resilience;
    return {
      state: 'closed',
      failures: settings?.failures ?? r.breakerFailures,
      minAgents: r.breakerMinAgents,
      halfOpenAfterMs: settings?.halfOpenAfterMs ?? r.breakerHalfOpenAfterMs,
      streak: new Map(),
      counted: 0,
      openedAt: 0,
      probing: false,
    };
  }

  private breakerFor(key: string, settings: BreakerSettings | undefined): Breaker {
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = this.newBreaker(settings);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }
}
