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
    // One signal for the handler: the caller's (cancel, disconnect) or the deadline, whichever fires first.
    // Chained by hand: AbortSignal.any() costs several times as much per call (weak refs and a registry).
    const parent = invocation.ctx.signal;
    const signal = new AbortController();
    const forward = () => signal.abort(parent.reason);
    if (parent.aborted) forward();
    else parent.addEventListener('abort', forward, { once: true });
    invocation.ctx = { ...invocation.ctx, signal: signal.signal };
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
        signal.abort(error);
        invocation.ctx.logger.warn({ timeoutMs }, 'tool call timed out');
        reject(error);
      }, timeoutMs);
    });
    try {
      return await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
      parent.removeEventListener('abort', forward);
    }
  }
}
