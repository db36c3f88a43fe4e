import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { toolScope } from '../common/scopes.js';
import { PermissionsService } from './permissions.service.js';

export interface ToolRef {
  name: string;
  version: string;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: 'scope' | 'grant' };

/** Resources and prompts share the tool permission model under their own key, e.g. `resource:docs.readme`. */
export type FeatureKind = 'resource' | 'prompt';

/**
 * The scope a token needs for a resource or prompt, which is also the key of its grant: `permission_grant.tool_name`
 * holds `resource:<name>` / `prompt:<name>` (no tool can be named so: tool names have no `:`), `tool_version` null.
 */
export const featureKey = (kind: FeatureKind, name: string) => `${kind}:${name}`;

/**
 * The one place that decides "may this agent call this tool now": the token must carry `tool:<name>` AND the
 * agent must hold a grant in force. `tools/list` and `tools/call` both ask here.
 */
@Injectable()
export class AccessPolicy {
  constructor(private readonly permissions: PermissionsService) {}

  /** Reads the grant from the database (unless the scope already denies), then decides. */
  async decide(principal: Principal, tool: ToolRef): Promise<AccessDecision> {
    if (!principal.scopes.has(toolScope(tool.name))) return { allowed: false, reason: 'scope' };
    return this.decision(
      principal,
      tool,
      await this.permissions.isGranted(principal.agentId, tool.name, tool.version),
    );
  }

  /**
   * The decision itself, given whether the agent holds a grant in force for this tool version as read from the
   * database for this very request (`grantInForceSql`; `tools/call` reads it together with the kill switch).
   */
  decision(principal: Principal, tool: ToolRef, granted: boolean): AccessDecision {
    if (!principal.scopes.has(toolScope(tool.name))) return { allowed: false, reason: 'scope' };
    return granted ? { allowed: true } : { allowed: false, reason: 'grant' };
  }

  /** The subset of `tools` the principal may call now (one query for all of them). */
  async callable<T extends ToolRef>(principal: Principal, tools: T[]): Promise<T[]> {
    const inScope = tools.filter((t) => principal.scopes.has(toolScope(t.name)));
    if (inScope.length === 0) return [];
    const grants = await this.permissions.grantedTools(principal.agentId);
    return inScope.filter(
      (t) =>
        this.decision(
          principal,
          t,
          grants.some(
            (g) => g.toolName === t.name && (g.toolVersion === null || g.toolVersion === t.version),
          ),
        ).allowed,
    );
  }

  /** May this agent read this resource / get this prompt now? Scope `<kind>:<name>` AND a grant for that key. */
  async decideFeature(principal: Principal, kind: FeatureKind, name: string): Promise<AccessDecision> {
    const key = featureKey(kind, name);
    if (!principal.scopes.has(key)) return { allowed: false, reason: 'scope' };
    // A feature grant has no version; '' matches only grants with tool_version NULL.
    const granted = await this.permissions.isGranted(principal.agentId, key, '');
    return granted ? { allowed: true } : { allowed: false, reason: 'grant' };
  }

  /** The subset of resources or prompts the principal may use now, for the list methods (one query). */
  async visibleFeatures<T extends { name: string }>(
    principal: Principal,
    kind: FeatureKind,
    items: T[],
  ): Promise<T[]> {
    const inScope = items.filter((i) => principal.scopes.has(featureKey(kind, i.name)));
    if (inScope.length === 0) return [];
    const granted = new Set(
      (await this.permissions.grantedTools(principal.agentId))
        .filter((g) => g.toolVersion === null)
        .map((g) => g.toolName),
    );
    return inScope.filter((i) => granted.has(featureKey(kind, i.name)));
  }
}
