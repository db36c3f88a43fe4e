import { Injectable, Optional } from '@nestjs/common';
import { GateReader, takeGateReading } from '../../common/admission.js';
import { DomainError } from '../../common/domain-error.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { AccessPolicy } from '../../permissions/access-policy.service.js';
import { ToolRegistry } from '../tool-registry.service.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolDefinition, ToolResult } from '../tool.types.js';
import { assertAllowed } from './authorization.step.js';

/** `_meta` key (on descriptors and on results of calls to deprecated versions): `{ sunset, replacement }`. */
export const DEPRECATED_META = 'mcp-production/deprecated';

/**
 * Finds the tool a call names: its latest version, or the one pinned in `_meta` (see ToolRegistry.resolve).
 * Unknown tools are a protocol error (JSON-RPC -32602), as the spec shows. Then the version policies:
 * a tool switched off by an admin fails with `TOOL_DISABLED` (read from the database on every call, so a switch
 * holds on every replica from the next call on); a deprecated version past its sunset fails with `TOOL_SUNSET`
 * naming the replacement; before the sunset it runs, is logged and counted, and its result says it is deprecated.
 * The switch is read together with the agent's grants in one statement: by admission, with the token's
 * revocation, for the request's one `tools/call` (`ctx.admission`), else here (`GateReader`). Before any version
 * policy, the agent must hold the tool's scope and a grant for its NAME (any version): an agent that may not use
 * the tool gets the same denial for every version it names, and learns nothing about sunsets, replacements or
 * switches. The grant of the resolved version is left on the invocation for AuthorizationStep, which decides
 * after the version policies (grants pinned to a version).
 */
@Injectable()
export class ResolveStep implements ToolStep {
  constructor(
    private readonly registry: ToolRegistry,
    private readonly gate: GateReader,
    private readonly policy: AccessPolicy,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { call, ctx } = invocation;
    const latest = this.registry.get(call.name);
    const tool = this.registry.resolve(call.name, call.meta);
    if (!latest) throw new DomainError('UNKNOWN_TOOL', `Unknown tool: ${call.name}`);
    invocation.tool = tool;
    // One statement: the switch and grant of the version asked for (the latest when that one does not exist), and
    // the grant of the name; then the name-level decision, before anything else is said about versions.
    const target = tool ?? latest;
    const { disabled, granted, grantedName } =
      takeGateReading(ctx.admission, target) ?? (await this.gate.read(ctx.principal, target));
    assertAllowed(this.policy.decision(ctx.principal, latest, grantedName), latest.name);
    if (!tool) throw new DomainError('UNKNOWN_TOOL', `Unknown tool: ${call.name}`);
    invocation.granted = granted;
    if (disabled) {
      throw new DomainError(
        'TOOL_DISABLED',
        `Tool ${tool.name}@${tool.version} is switched off by an operator`,
        {
          tool: tool.name,
          version: tool.version,
        },
      );
    }
    if (!tool.deprecated) return next();

    const { sunset, replacement, sunsetAt } = tool.deprecated;
    if (Date.now() >= sunsetAt.getTime()) {
      throw new DomainError(
        'TOOL_SUNSET',
        `Tool ${tool.name}@${tool.version} was retired on ${sunset}; use ${replacement}`,
        { tool: tool.name, version: tool.version, sunset, replacement },
      );
    }
    ctx.logger.warn({ version: tool.version, sunset, replacement }, 'deprecated tool version called');
    this.metrics?.deprecatedCall(tool.name, tool.version);
    const result = await next();
    return { ...result, _meta: { ...result._meta, [DEPRECATED_META]: deprecation(tool) } };
  }
}

export function deprecation(tool: ToolDefinition): { sunset: string; replacement: string } | undefined {
  return tool.deprecated && { sunset: tool.deprecated.sunset, replacement: tool.deprecated.replacement };
}
