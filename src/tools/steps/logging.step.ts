import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { errorCodeOf } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/** Outermost step: times every call and writes one log line with its outcome (ctx.logger carries request id, agent and tool). */
@Injectable()
export class LoggingStep implements ToolStep {
  async run({ ctx }: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const started = performance.now();
    const log = (outcome: string, errorCode?: string) =>
      ctx.logger.info(
        { outcome, errorCode, durationMs: Math.round((performance.now() - started) * 100) / 100 },
        'tool call',
      );
    try {
      const result = await next();
      const code = errorCodeOf(result);
      log(code ? 'tool_error' : 'success', code);
      return result;
    } catch (error) {
      log(
        error instanceof DomainError ? 'tool_error' : 'error',
        error instanceof DomainError ? error.code : 'INTERNAL_ERROR',
      );
      throw error;
    }
  }
}
