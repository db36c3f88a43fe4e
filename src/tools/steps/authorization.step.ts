import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { AccessPolicy, toolScope } from '../../permissions/access-policy.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Scope AND grant, checked against the database on every call (never cached). The HTTP scope guard has
 * already answered 403 for a missing scope on POST; this also covers every other path into the pipeline.
 * The grant was read by the resolve step in the same statement as the kill switch (ToolGate), for this call;
 * AccessPolicy makes the decision, as it does for `tools/list`.
 */
@Injectable()
export class AuthorizationStep implements ToolStep {
  constructor(private readonly policy: AccessPolicy) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    const { principal } = invocation.ctx;
    const decision =
      invocation.granted === undefined
        ? await this.policy.decide(principal, tool)
        : this.policy.decision(principal, tool, invocation.granted);
    if (!decision.allowed) {
      if (decision.reason === 'scope') {
        throw new DomainError('INSUFFICIENT_SCOPE', `Token lacks scope ${toolScope(tool.name)}`, {
          scope: toolScope(tool.name),
        });
      }
      throw new DomainError('GRANT_DENIED', `Agent has no active grant for tool ${tool.name}`, {
        tool: tool.name,
      });
    }
    return next();
  }
}
