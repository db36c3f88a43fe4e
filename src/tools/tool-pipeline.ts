import type { CallWrites } from '../state/call-writes.js';
import type { ToolCall, ToolContext, ToolDefinition, ToolResult } from './tool.types.js';

/** One call travelling through the pipeline. `tool` is set by the resolve step. */
export interface ToolInvocation {
  call: ToolCall;
  ctx: ToolContext;
  tool?: ToolDefinition;
  /** Parsed arguments, set by the validation step. */
  input?: unknown;
  /** Whether the agent holds a grant in force for `tool`, read by the resolve step (ToolGate) for this call. */
  granted?: boolean;
  /** When the call's time budget ends (epoch ms), set by the timeout step; the audit row gets a margin past it. */
  deadline?: number;
  /** The call's state writes, as far as they may have changed anything (set by the timeout step). */
  writes?: CallWrites;
  /** The flow (UUID) linking the rounds of an input-required call, set by the input step; audited with each round. */
  flowId?: string;
}

/**
 * A stage of the tool pipeline. Steps run in the order `ToolInvoker` lists them, each wrapping the rest:
 * a step may act before and after `next()`, short-circuit by throwing, or transform the result.
 */
export interface ToolStep {
  run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult>;
}
