import type { DomainError } from '../common/domain-error.js';
import type { FeatureKind } from '../permissions/access-policy.service.js';
import type { CallWrites } from '../state/call-writes.js';
import type { FeatureContext } from './resource-prompt.types.js';
import type { ToolCall, ToolContext, ToolDefinition, ToolResult } from './tool.types.js';

/** What the pipeline runs: a `tools/call`, a `resources/read`, a `prompts/get` or a `completion/complete`. */
export type OperationKind = 'tool' | 'resource' | 'prompt' | 'completion';

/**
 * A resource read, prompt get or completion as the MCP layer hands it to the pipeline: which feature it targets
 * (found by the caller; absent when nothing matches) and how to run it once admitted.
 */
export interface FeatureOperation {
  /** The feature whose scope and grant authorise the operation (a completion: its prompt's or template's). */
  target?: { kind: FeatureKind; name: string };
  kind: Exclude<OperationKind, 'tool'>;
  /** Thrown by the resolve step when there is no target (the answer to an unknown URI or name). */
  notFound: DomainError;
  /** Kinds that may ask for input over rounds: the method their request state is bound to. */
  method?: 'resources/read' | 'prompts/get';
  /** The handler; its value (not an input-required answer) goes through `toResult`. */
  run(ctx: FeatureContext): Promise<unknown>;
  toResult(value: unknown): object;
}

/**
 * One operation travelling through the pipeline. `call` carries its name (a feature's grant key) and parameters
 * (a read's `{ uri }`, a prompt's arguments); `tool` is set by the resolve step of a tool call.
 */
export interface ToolInvocation {
  kind: OperationKind;
  call: ToolCall;
  /** Set for every kind but `tool`. */
  feature?: FeatureOperation;
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
 * A stage of the operation pipeline. Steps run in the order `ToolInvoker` lists them for the operation's kind,
 * each wrapping the rest: a step may act before and after `next()`, short-circuit by throwing, or transform the
 * result. Results of other kinds than `tool` (a `ReadResourceResult`, …) travel typed as a `ToolResult`.
 */
export interface ToolStep {
  run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult>;
}

/** The steps of the pipeline, by name (ToolInvoker maps each to its instance). */
export type StepName =
  | 'logging'
  | 'audit'
  | 'resolve'
  | 'resolveFeature'
  | 'authorization'
  | 'input'
  | 'validation'
  | 'idempotency'
  | 'breaker'
  | 'timeout'
  | 'retry';

/**
 * The one place that says which steps run for which kind of operation, in policy order. Every kind is logged,
 * audited and admitted; only tools have versions (resolve + version-pinned authorization), input schemas,
 * idempotency keys, breakers, budgets and retries. Resources and prompts may ask for input over rounds;
 * a prompt's arguments are parsed by its handler (McpFeatureHandlers), a completion is a single answer.
 */
export const STEPS_OF_KIND: Readonly<Record<OperationKind, readonly StepName[]>> = {
  tool: [
    'logging',
    'audit',
    'resolve',
    'authorization',
    'input',
    'validation',
    'idempotency',
    'breaker',
    'timeout',
    'retry',
  ],
  resource: ['logging', 'audit', 'resolveFeature', 'input'],
  prompt: ['logging', 'audit', 'resolveFeature', 'input'],
  completion: ['logging', 'audit', 'resolveFeature'],
};
