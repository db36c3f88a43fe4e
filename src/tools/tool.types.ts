import type { CallToolResult, ClientCapabilities, ToolAnnotations } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Admission } from '../common/admission.js';
import type { Principal } from '../common/principal.js';
import type { AgentState } from '../state/agent-state.js';
import type { ClientChannel } from './client-channel.js';
import type { InputRequests, InputRequiredAnswer, JSONValue, ToolInput } from './input.js';

export { ask } from './input.js';
export type { InputRequiredAnswer, ToolInput } from './input.js';

export type { Principal };
export type {
  AgentState,
  StateDeleteResult,
  StateEntry,
  StateListItem,
  StateListOptions,
  StatePage,
  StateWriteOptions,
  StateWriteResult,
} from '../state/agent-state.js';

/** What a tool declares on its `@Tool()` decorator. */
export interface ToolOptions<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  /** `<pack>.<verb>` in lowercase, e.g. `counter.increment`. */
  name: string;
  /** Semver-like version string; defaults to `1.0.0`. */
  version?: string;
  title?: string;
  description: string;
  input: I;
  /** When set, results carry `structuredContent` validated against it. */
  output?: O;
  annotations?: ToolAnnotations;
  /** Calls per agent per minute to this tool (overrides `RATE_LIMIT_TOOL_PER_MINUTE`). */
  rateLimit?: { perMinute: number };
  /** Circuit breaker: opens after `failures` consecutive failures, probes again after `halfOpenAfterMs`. */
  breaker?: { failures?: number; halfOpenAfterMs?: number };
  /**
   * Retries of transient failures. Tools with `annotations.idempotentHint: true` are retried with the config
   * defaults; `retry` sets the policy explicitly (and marks the tool safe to retry); `false` never retries.
   */
  retry?: false | { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Time budget of one call, retries included (default `TOOL_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** This version is deprecated: it stops working after `sunset` (ISO date); `replacement` names the successor. */
  deprecated?: ToolDeprecation;
  /**
   * Advertise this JSON Schema in `tools/list` verbatim instead of the one derived from `input` (e.g. to keep
   * `$schema`, `$defs` and `$ref`). Arguments are still validated with `input`: keep the two equivalent.
   */
  inputJsonSchema?: Record<string, unknown>;
}

export interface ToolDeprecation {
  /** ISO 8601 date or date-time after which calls fail with `TOOL_SUNSET`. */
  sunset: string;
  /** The tool to use instead: `name` (its latest version) or `name@version`. */
  replacement: string;
}

/** Per-call context handed to every handler, built fresh for each call. */
export interface ToolContext {
  principal: Principal;
  /**
   * What admission decided for the HTTP request carrying this call (AdmissionGuard): its gate reading, read with
   * the token's revocation, spares the pipeline a second read. Absent for calls made in process.
   */
  admission?: Admission;
  requestId: string;
  sessionId?: string;
  /** The HTTP client (for the audit trail). */
  remoteAddr?: string;
  userAgent?: string;
  logger: Logger;
  /** Fires when the call times out or the client goes away. */
  signal: AbortSignal;
  /** The calling agent's own state (keys of other agents are out of reach); see README "State". */
  state: AgentState;
  /** Progress notification for this call; a no-op when the request carried no `_meta.progressToken`. */
  progress: ClientChannel['progress'];
  /** Log message to the client (`notifications/message`), filtered by the client's `logging/setLevel`. */
  log: ClientChannel['log'];
  /** Asks the user for input (`elicitation/create`); stateful sessions only, else `CLIENT_UNSUPPORTED`. */
  elicit: ClientChannel['elicit'];
  /** Asks the client's LLM (`sampling/createMessage`); stateful sessions only, else `CLIENT_UNSUPPORTED`. */
  sample: ClientChannel['sample'];
  /** Ends the call's SSE stream early; the client resumes it (stateful sessions, 2025-11-25 clients). */
  closeStream: ClientChannel['closeStream'];
  /**
   * The client's answers to the previous round's `ctx.inputRequired()` (README "Asking the client for input").
   * Work done before the point that asks for input runs again on every round: keep it idempotent.
   */
  input: ToolInput;
  /**
   * Ends this round asking the client for input; return it from the handler. The client answers and calls again
   * (2026-07-28), or, on a 2025 session, the SDK asks it with real requests and calls the handler again.
   */
  inputRequired(spec: { requests: InputRequests; state?: JSONValue }): InputRequiredAnswer;
  /** What the client declared it supports (2026-07-28: this request's envelope; 2025: its `initialize`). */
  clientCapabilities?: ClientCapabilities;
  /** The protocol revision of this request (2026-07-28) or of its session (2025 eras). */
  protocolVersion?: string;
}

/** What the MCP layer hands `ToolInvoker.invoke()`: the context minus the parts the invoker adds. */
export type ToolCallContext = Omit<ToolContext, 'state' | 'input' | 'inputRequired' | keyof ClientChannel> &
  Partial<ClientChannel>;

/** A handler returns its structured output (an object) or a full MCP result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- input is typed per tool by its zod schema
export type ToolHandler = (input: any, ctx: ToolContext) => unknown;

/** A discovered tool, resolved once at boot: schemas are converted here and never per request. */
export interface ToolDefinition {
  name: string;
  version: string;
  title?: string;
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  inputJsonSchema: Record<string, unknown>;
  outputJsonSchema?: Record<string, unknown>;
  annotations?: ToolAnnotations;
  rateLimit?: ToolOptions['rateLimit'];
  breaker?: ToolOptions['breaker'];
  retry?: ToolOptions['retry'];
  timeoutMs?: number;
  deprecated?: ToolDeprecation & { sunsetAt: Date };
  handler: ToolHandler;
  /** Class that declared it, for diagnostics. */
  owner: string;
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown> | undefined;
  meta?: Record<string, unknown>;
  /** A later round of an input-required call: the client's answers and the state the last round signed. */
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

export type ToolResult = CallToolResult;
