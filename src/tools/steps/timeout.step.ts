import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { AppConfig } from '../../config/app-config.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Per-call time budget (`@Tool({ timeoutMs })`, else TOOL_TIMEOUT_MS), retries included. The handler's
 * `ctx.signal` fires when the budget runs out, and also when the client cancels or disconnects (the SDK's own
 * signal); the caller gets `TOOL_TIMEOUT` at once, without waiting for a handler that ignores its signal.
 */
@Injectable()
export class TimeoutStep implements ToolStep {
  constructor(private readonly config: AppConfig) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    const timeoutMs = tool.timeoutMs ?? this.config.resilience.toolTimeoutMs;
    const deadline = new AbortController();
    invocation.ctx = { ...invocation.ctx, signal: AbortSignal.any([invocation.ctx.signal, deadline.signal]) };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = new DomainError(
          'TOOL_TIMEOUT',
          `Tool ${tool.name} did not finish within ${timeoutMs} ms`,
          {
            timeoutMs,
          },
        );
        deadline.abort(error);
        invocation.ctx.logger.warn({ timeoutMs }, 'tool call timed out');
        reject(error);
      }, timeoutMs);
    });
    try {
      return await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
