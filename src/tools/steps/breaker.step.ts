import { Injectable } from '@nestjs/common';
import { CircuitBreakers } from '../../resilience/circuit-breakers.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Circuit breaker per tool version (thresholds from `@Tool({ breaker })`, else BREAKER_* config). It wraps the
 * timeout and retry steps, so one call counts once: a call that still fails after its retries, or times out,
 * is one failure. While the breaker is open, calls fail at once with `CIRCUIT_OPEN` (`details.retryAfterMs`).
 */
@Injectable()
export class BreakerStep implements ToolStep {
  constructor(private readonly breakers: CircuitBreakers) {}

  run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    // The caller's own signal (the timeout step, inside this one, adds the deadline to the handler's).
    return this.breakers.execute(breakerKey(tool), tool.breaker, next, invocation.ctx.signal);
  }
}

export const breakerKey = (tool: { name: string; version: string }) => `${tool.name}@${tool.version}`;
