import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { argumentsTooDeep, MAX_ARGUMENT_DEPTH } from '../call-size.js';
import { InvalidArgumentsError } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/** Arguments nested deeper than MAX_ARGUMENT_DEPTH: a protocol error (JSON-RPC -32602), not a tool result. */
export class ArgumentsTooDeepError extends DomainError {
  constructor() {
    super('ARGUMENTS_TOO_DEEP', `Arguments are nested deeper than ${MAX_ARGUMENT_DEPTH} levels`, {
      maxDepth: MAX_ARGUMENT_DEPTH,
    });
  }
}

/**
 * The one shape check the parameters of every operation (tool call, resource read, prompt get, completion) pass
 * before anything else reads them: run first inside the audit step (AuditStep), so the refusal has its audit row
 * and no policy step, schema or tool ever walks a value nested without bound.
 */
export function refuseDeepArguments(args: unknown): void {
  if (argumentsTooDeep(args)) throw new ArgumentsTooDeepError();
}

/** Parses arguments with the tool's zod schema; failures become an INVALID_ARGUMENTS tool error. */
@Injectable()
export class ValidationStep implements ToolStep {
  run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const parsed = invocation.tool!.input.safeParse(invocation.call.arguments ?? {});
    if (!parsed.success) {
      throw new InvalidArgumentsError(
        parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      );
    }
    invocation.input = parsed.data;
    return next();
  }
}
