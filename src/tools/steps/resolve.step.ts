import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { ToolRegistry } from '../tool-registry.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/** Finds the tool a call names. Unknown tools are a protocol error (JSON-RPC -32602), as the spec shows. */
@Injectable()
export class ResolveStep implements ToolStep {
  constructor(private readonly registry: ToolRegistry) {}

  run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    invocation.tool = this.registry.get(invocation.call.name);
    if (!invocation.tool) throw new DomainError('UNKNOWN_TOOL', `Unknown tool: ${invocation.call.name}`);
    return next();
  }
}
