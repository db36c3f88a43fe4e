import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { AppConfig } from '../../config/app-config.js';
import { OutcomeUnknownError } from '../../database/write-outcome.js';
import { CallWrites } from '../../state/call-writes.js';
import { StateService } from '../../state/state.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * How long past its budget a call's audit row may still take to commit: a call answers within its budget plus
 * this (issue #15 §4 asks for budget + 1 s, whatever the database does).
 */
export const AUDIT_MARGIN_MS = 500;

/**
 * Per-call time budget (`@Tool({ timeoutMs })`, else TOOL_TIMEOUT_MS), retries included. The handler's
 * `ctx.signal` fires when the budget runs out, and also when the client cancels or disconnects (the SDK's own
 * signal); the caller gets `TOOL_TIMEOUT` at once, without waiting for a handler that ignores its signal.
 *
 * A timed-out call has changed nothing, as far as that can be guaranteed (issue #15 §5): its state handle is bound
 * to the signal, so a write still waiting for its statement is withdrawn when the budget runs out. A write already
 * sent (or committed) cannot be taken back: then the call answers `OUTCOME_UNKNOWN` instead of `TOOL_TIMEOUT`.
 */
@Injectable()
export class TimeoutStep implements ToolStep {
  constructor(
    private readonly config: AppConfig,
    private readonly state: StateService,
  ) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    const timeoutMs = tool.timeoutMs ?? this.config.resilience.toolTimeoutMs;
    // From the request's arrival when it came over HTTP: waits before the pipeline are part of the budget.
    const deadline = (invocation.deadline = (invocation.ctx.admission?.receivedAt ?? Date.now()) + timeoutMs);
    const writes = (invocation.writes = new CallWrites());
    // One signal for the handler: the caller's (cancel, disconnect) or the deadline, whichever fires first.
    // Chained by hand: AbortSignal.any() costs several times as much per call (weak refs and a registry).
    const parent = invocation.ctx.signal;
    const signal = new AbortController();
    const forward = () => signal.abort(parent.reason);
    if (parent.aborted) forward();
    else parent.addEventListener('abort', forward, { once: true });
    const state = this.state.forCall(invocation.ctx.state, { signal: signal.signal, writes });
    invocation.ctx = { ...invocation.ctx, signal: signal.signal, state };
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
        signal.abort(error); // withdraws the writes still waiting, at once
        invocation.ctx.logger.warn({ timeoutMs }, 'tool call timed out');
        reject(
          writes.mayHaveChanged
            ? new OutcomeUnknownError(`the call ran out of its ${timeoutMs} ms with a write under way`)
            : error,
        );
      }, deadline - Date.now());
    });
    try {
      return await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
      parent.removeEventListener('abort', forward);
    }
  }
}

/**
 * When the call's audit row must be committed (epoch ms): AUDIT_MARGIN_MS after its budget's end, or after now
 * when that is later (a call refused before its budget started, or one that ran out of it).
 */
export function auditDeadline(invocation: ToolInvocation): number {
  return Math.max(invocation.deadline ?? 0, Date.now()) + AUDIT_MARGIN_MS;
}

/**
 * What a call answers when its audit row could not be committed in time: the audit's error (AUDIT_UNAVAILABLE),
 * or OUTCOME_UNKNOWN when the call's writes may have changed state (they are not undone by a missing audit row).
 */
export function auditFailure(invocation: ToolInvocation, error: unknown): unknown {
  return invocation.writes?.mayHaveChanged
    ? new OutcomeUnknownError('its audit row could not be written', error)
    : error;
}
