import { Injectable } from '@nestjs/common';
import { argumentsDigest } from '../call-size.js';
import { isInputRequiredAnswer } from '../input.js';
import { InputRounds } from '../input-rounds.js';
import type { StateBinding } from '../request-state.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/** The version a resource's or prompt's request state binds (they have none). */
export const FEATURE_VERSION = '1';

/**
 * A later round's signed state becomes `ctx.input`; a handler's `ctx.inputRequired()` answer becomes the
 * `input_required` result (InputRounds). After authorization: every round is authorised like a first call. The same for
 * resource reads and prompt gets.
 */
@Injectable()
export class InputStep implements ToolStep {
  constructor(private readonly rounds: InputRounds) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { call, ctx, tool, feature } = invocation;
    const binding: StateBinding = {
      agentId: ctx.principal.agentId,
      method: feature?.method ?? 'tools/call',
      // Resources and prompts have no versions: their request states bind FEATURE_VERSION.
      name: tool?.name ?? feature!.target!.name,
      version: tool?.version ?? FEATURE_VERSION,
      argumentsDigest: argumentsDigest(call).sha256,
    };
    const round = this.rounds.begin(binding, call);
    invocation.flowId = round.flowId;
    ctx.input = round.input;

    const result: unknown = await next();
    if (!isInputRequiredAnswer(result)) return result as ToolResult;
    const asked = this.rounds.ask(binding, round, result, ctx);
    invocation.flowId = round.flowId;
    return asked as unknown as ToolResult;
  }
}
