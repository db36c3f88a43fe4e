import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import { toolScope } from '../../common/scopes.js';
import { AccessPolicy, type AccessDecision } from '../../permissions/access-policy.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Scope AND grant for the resolved tool version, checked against the database on every call (never cached). The
 * HTTP scope guard has already answered 403 for a missing scope on POST; this also covers every other path into
 * the pipeline. The grants were read by the resolve step in the same statement as the kill switch (ToolGate), for
 * this call; the resolve step has already refused an agent with no grant for the tool's name at all, and this
 * step applies a grant pinned to versions. AccessPolicy makes the decision, as it does for `tools/list`.
 */
@Injectable()
export class AuthorizationStep implements ToolStep {
  constructor(private readonly policy: AccessPolicy) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const tool = invocation.tool!;
    const { principal } = invocation.ctx;
    assertAllowed(
      invocation.granted === undefined
        ? await this.policy.decide(principal, tool)
        : this.policy.decision(principal, tool, invocation.granted),
      tool.name,
    );
    return next();
  }
}

/** The one shape of a denial (protocol errors -32003): the same whether the name or the version was refused. */
export function assertAllowed(decision: AccessDecision, toolName: string): void {
  if (decision.allowed) return;
  if (decision.reason === 'scope') {
    throw new DomainError('INSUFFICIENT_SCOPE', `Token lacks scope ${toolScope(toolName)}`, {
      scope: toolScope(toolName),
    });
  }
  throw new DomainError('GRANT_DENIED', `Agent has no active grant for tool ${toolName}`, {
    tool: toolName,
  });
}
