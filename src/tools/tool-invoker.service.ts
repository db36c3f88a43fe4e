import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { LoggingStep } from './steps/logging.step.js';
import { ResolveStep } from './steps/resolve.step.js';
import { ValidationStep } from './steps/validation.step.js';
import { isProtocolError, toolErrorResult } from './tool-errors.js';
import type { ToolInvocation, ToolStep } from './tool-pipeline.js';
import type { ToolCall, ToolContext, ToolDefinition, ToolResult } from './tool.types.js';

/**
 * The one path every `tools/call` takes. The order of `steps` is the policy order; read it top to bottom.
 * Errors thrown by any step become tool results (`isError: true`) except protocol errors, which propagate
 * to the MCP layer as JSON-RPC errors.
 */
@Injectable()
export class ToolInvoker {
  private readonly steps: ToolStep[];

  /*
   * Policy order (each step wraps the ones after it):
   *   logging/metrics → audit → resolve → authorization (scope + grant) → rate limit → validation
   *   → idempotency → circuit breaker → timeout/retry → handler
   * Steps not yet listed are added in this order as their modules land.
   */
  constructor(logging: LoggingStep, resolve: ResolveStep, validation: ValidationStep) {
    this.steps = [logging, resolve, validation];
  }

  async invoke(call: ToolCall, ctx: ToolContext): Promise<ToolResult> {
    const invocation: ToolInvocation = { call, ctx };
    const run = (i: number): Promise<ToolResult> =>
      i < this.steps.length ? this.steps[i].run(invocation, () => run(i + 1)) : execute(invocation);
    try {
      return await run(0);
    } catch (error) {
      if (isProtocolError(error)) throw error;
      if (!(error instanceof DomainError)) ctx.logger.error({ err: error, tool: call.name }, 'tool failed');
      return toolErrorResult(error);
    }
  }
}

async function execute({ tool, input, ctx }: ToolInvocation): Promise<ToolResult> {
  return toResult(tool!, await tool!.handler(input, ctx));
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
