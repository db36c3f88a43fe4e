import { Injectable } from '@nestjs/common';
import { ProtocolError } from '@modelcontextprotocol/server';
import { DomainError } from '../common/domain-error.js';
import { outageLog } from '../common/logging/outage-log.js';
import type { Principal } from '../common/principal.js';
import { AccessPolicy } from '../permissions/access-policy.service.js';
import { ToolSwitchService } from '../resilience/tool-switch.service.js';
import { StateService } from '../state/state.service.js';
import { AuditStep } from './steps/audit.step.js';
import { AuthorizationStep } from './steps/authorization.step.js';
import { BreakerStep } from './steps/breaker.step.js';
import { IdempotencyStep } from './steps/idempotency.step.js';
import { InputStep } from './steps/input.step.js';
import { LoggingStep } from './steps/logging.step.js';
import { ResolveFeatureStep } from './steps/resolve-feature.step.js';
import { ResolveStep } from './steps/resolve.step.js';
import { RetryStep } from './steps/retry.step.js';
import { TimeoutStep } from './steps/timeout.step.js';
import { ValidationStep } from './steps/validation.step.js';
import { mcpErrorAnswer } from './tool-errors.js';
import {
  STEPS_OF_KIND,
  type FeatureOperation,
  type OperationKind,
  type StepName,
  type ToolInvocation,
  type ToolStep,
} from './tool-pipeline.js';
import { ToolRegistry } from './tool-registry.service.js';
import type { ToolCall, ToolCallContext, ToolContext, ToolDefinition, ToolResult } from './tool.types.js';
import { NO_CLIENT_CHANNEL } from './client-channel.js';
import { FIRST_ROUND, inputRequiredAnswer, isInputRequiredAnswer } from './input.js';

/**
 * The one path every operation takes: `tools/call`, `resources/read`, `prompts/get` and `completion/complete`,
 * first rounds and input-required continuations alike. The steps of each kind, in policy order, are listed in
 * one table (`STEPS_OF_KIND`); read it top to bottom. How a failure is answered is decided in one place
 * (`mcpErrorAnswer`): a tool's error as its result, protocol errors and other kinds' errors as JSON-RPC errors.
 */
@Injectable()
export class ToolInvoker {
  private readonly chains: Record<OperationKind, ToolStep[]>;

  /*
   * Policy order of a tool call (each step wraps the ones after it):
   *   logging/metrics → audit → resolve (scope + grant of the NAME, then version, kill switch, sunset)
   *   → authorization (scope + grant of the version) → input (a later round's signed state; an input-required
   *   answer out) → validation → idempotency → circuit breaker (attributes
   *   dependency failures to agents) → timeout (budget of the whole call) → retry (inside the budget) → handler.
   * A resource read, prompt get or completion: logging → audit → resolveFeature (NOT_FOUND, then scope + grant
   * of its key) → input (reads and gets) → handler.
   * Rate limits and the per-agent in-flight cap are enforced before the pipeline, by RateLimitGuard on the HTTP
   * request: a 429 must be an HTTP status, which the SDK transport cannot send once it owns the response.
   */
  constructor(
    logging: LoggingStep,
    audit: AuditStep,
    resolve: ResolveStep,
    resolveFeature: ResolveFeatureStep,
    authorization: AuthorizationStep,
    input: InputStep,
    validation: ValidationStep,
    idempotency: IdempotencyStep,
    breaker: BreakerStep,
    timeout: TimeoutStep,
    retry: RetryStep,
    private readonly policy: AccessPolicy,
    private readonly registry: ToolRegistry,
    private readonly state: StateService,
    private readonly switches: ToolSwitchService,
  ) {
    const steps: Record<StepName, ToolStep> = {
      logging,
      audit,
      resolve,
      resolveFeature,
      authorization,
      input,
      validation,
      idempotency,
      breaker,
      timeout,
      retry,
    };
    this.chains = chainsOf(steps);
  }

  /**
   * The tools this principal may call now under their plain name, for `tools/list`: the latest version of each
   * tool, unless it is switched off or past its sunset, and then the same decision `AuthorizationStep` makes.
   */
  async callableTools(principal: Principal): Promise<ToolDefinition[]> {
    const now = Date.now();
    const live = this.registry.latest().filter((t) => !t.deprecated || t.deprecated.sunsetAt.getTime() > now);
    return this.policy.callable(principal, await this.switches.filterEnabled(live));
  }

  /**
   * Runs a tool call, or (`feature` given) a resource read, prompt get or completion: `call.name` is then the
   * feature's grant key (as sent when unknown) and `call.arguments` its parameters. Resolves to the result (other
   * kinds' results travel typed as a ToolResult), or throws the SDK's JSON-RPC error.
   * `ctx.state` is added here: the calling agent's state handle, built per call from the principal.
   */
  async invoke(
    call: ToolCall,
    callContext: ToolCallContext,
    feature?: FeatureOperation,
  ): Promise<ToolResult> {
    const { principal, requestId, sessionId } = callContext;
    const state = this.state.forAgent(principal.agentId, {
      requestId,
      sessionId,
      clientId: principal.clientId,
      toolName: call.name,
    });
    const ctx: ToolContext = {
      ...NO_CLIENT_CHANNEL,
      ...callContext,
      state,
      input: FIRST_ROUND,
      inputRequired: inputRequiredAnswer,
    };
    const kind = feature?.kind ?? 'tool';
    const invocation: ToolInvocation = { kind, call, ctx, feature };
    const steps = this.chains[kind];
    const run = (i: number): Promise<ToolResult> =>
      i < steps.length ? steps[i].run(invocation, () => run(i + 1)) : execute(invocation);
    try {
      return await run(0);
    } catch (error) {
      // A dependency outage is logged once per cause per interval, not once per call (OutageLog).
      if (!(error instanceof DomainError) && !(error instanceof ProtocolError))
        outageLog.report(ctx.logger, error, `${kind} failed`, { tool: call.name });
      return mcpErrorAnswer(kind, error);
    }
  }
}

/** Each kind's chain of step instances, in the order of STEPS_OF_KIND. */
export function chainsOf(steps: Record<StepName, ToolStep>): Record<OperationKind, ToolStep[]> {
  const chains = {} as Record<OperationKind, ToolStep[]>;
  for (const [kind, names] of Object.entries(STEPS_OF_KIND))
    chains[kind as OperationKind] = names.map((name) => steps[name]);
  return chains;
}

async function execute(invocation: ToolInvocation): Promise<ToolResult> {
  const { tool, feature, input, ctx } = invocation;
  if (feature) {
    const answer = await feature.run(ctx);
    // An input-required answer travels up as it is (InputStep); any other value becomes the kind's result.
    return (isInputRequiredAnswer(answer) ? answer : feature.toResult(answer)) as ToolResult;
  }
  const value = await tool!.handler(input, ctx);
  // An input-required answer travels up as it is: InputStep turns it into the wire result.
  return isInputRequiredAnswer(value) ? (value as unknown as ToolResult) : toResult(tool!, value);
}

/** Handlers return either a full MCP result or their structured output; the latter is wrapped here. */
function toResult(tool: ToolDefinition, value: unknown): ToolResult {
  if (isCallToolResult(value)) return value;
  if (tool.output) {
    const parsed = tool.output.safeParse(value);
    if (!parsed.success)
      throw new DomainError('INTERNAL_ERROR', `Tool ${tool.name} returned output that breaks its schema`);
    return { content: [{ type: 'text', text: JSON.stringify(parsed.data) }], structuredContent: parsed.data };
  }
  return {
    content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value ?? null) }],
  };
}

function isCallToolResult(value: unknown): value is ToolResult {
  return (
    typeof value === 'object' && value !== null && Array.isArray((value as { content?: unknown }).content)
  );
}
