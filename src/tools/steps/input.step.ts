import { Injectable } from '@nestjs/common';
import { argumentsDigest } from '../call-size.js';
import { isInputRequiredAnswer } from '../input.js';
import { InputRounds } from '../input-rounds.js';
import type { StateBinding } from '../request-state.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * A later round's signed state becomes `ctx.input`; a handler's `ctx.inputRequired()` answer becomes the
 * `input_required` result (InputRounds). After authorization: every round is authorised like a first call.
 */
@Injectable()
export class InputStep implements ToolStep {
  constructor(private readonly rounds: InputRounds) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { call, ctx, tool } = invocation;
    const binding: StateBinding = {
      agentId: ctx.principal.agentId,
      method: 'tools/call',
      name: tool!.name,
      version: tool!.version,
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
