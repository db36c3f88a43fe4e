import { Injectable } from '@nestjs/common';
import { InvalidArgumentsError } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

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
