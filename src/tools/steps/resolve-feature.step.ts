import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';
import {
  AccessPolicy,
  featureKey,
  type AccessDecision,
  type FeatureKind,
} from '../../permissions/access-policy.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * The resolve step of a resource read, prompt get or completion: no such feature is NOT_FOUND (the error the
 * MCP layer built), else AccessPolicy decides on every request (scope `resource:<name>` / `prompt:<name>` AND a
 * grant for that key), with the same denials as a tool call (-32003, the code in `data.code`).
 */
@Injectable()
export class ResolveFeatureStep implements ToolStep {
  constructor(private readonly policy: AccessPolicy) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { target, notFound } = invocation.feature!;
    if (!target) throw notFound;
    const decision = await this.policy.decideFeature(invocation.ctx.principal, target.kind, target.name);
    if (decision.allowed) return next();
    throw featureDenial(decision, target.kind, target.name);
  }
}

/** The denial of a feature: the same codes (-32003) as a tool's, naming its key. */
export function featureDenial(
  decision: Extract<AccessDecision, { allowed: false }>,
  kind: FeatureKind,
  name: string,
): DomainError {
  const key = featureKey(kind, name);
  return decision.reason === 'scope'
    ? new DomainError('INSUFFICIENT_SCOPE', `Token lacks scope ${key}`, { scope: key })
    : new DomainError('GRANT_DENIED', `Agent has no active grant for ${key}`, { [kind]: name });
}
