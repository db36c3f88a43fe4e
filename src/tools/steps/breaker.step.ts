import { Injectable } from '@nestjs/common';
import { CircuitBreakers } from '../../resilience/circuit-breakers.service.js';
import { callerDatabaseError } from '../../resilience/failure-attribution.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Circuit breaker per tool version (thresholds from `@Tool({ breaker })`, else BREAKER_* config). It wraps the
 * timeout and retry steps, so one call counts once: a call that still fails after its retries, or times out,
 * is one failure, attributed to the calling agent. While the breaker is open, calls fail at once with
 * `CIRCUIT_OPEN` (`details.retryAfterMs`). A database error the caller's input caused (SQLSTATE class 22/23/54)
 * leaves here as `INVALID_ARGUMENTS`, not as a generic failure (see failure-attribution.ts).
 */
@Injectable()
export class BreakerStep implements ToolStep {
  constructor(private readonly breakers: CircuitBreakers) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    const { principal, signal } = invocation.ctx;
    try {
      // The caller's own signal (the timeout step, inside this one, adds the deadline to the handler's).
      return await this.breakers.execute(breakerKey(tool), tool.breaker, next, {
        agentId: principal.agentId,
        signal,
      });
    } catch (error) {
      throw callerDatabaseError(error) ?? error;
    }
  }
}

export const breakerKey = (tool: { name: string; version: string }) => `${tool.name}@${tool.version}`;
