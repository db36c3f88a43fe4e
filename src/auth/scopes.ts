import type { RequestView } from '../common/request-view.js';

/**
 * Scope names: `tool:<name>` lets a token call (and see) a tool; `mcp:admin` opens `/admin`; `mcp:admin:read` opens
 * its reads only (see `AdminScopes`). No hierarchies.
 */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_READ_SCOPE = 'mcp:admin:read';
export const TOOL_SCOPE_PREFIX = 'tool:';

export function toolScope(toolName: string): string {
  return `${TOOL_SCOPE_PREFIX}${toolName}`;
}

/** RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`: safe to put inside a challenge's quotes. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

/**
 * The scopes a token grants, from each of `claims` (AUTH_SCOPE_CLAIMS) that is a space-separated string or an array:
 * by default `scope` (RFC 9068, Auth0, Keycloak, oidc-provider) and `scp` (Entra ID: a string; Okta: an array);
 * Entra's app-only tokens carry theirs in `roles`. Anything that is not a scope token is ignored.
 */
export function scopesOf(
  claims: Record<string, unknown>,
  names: readonly string[] = ['scope', 'scp'],
): Set<string> {
  const scopes = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string' && isScopeToken(value)) scopes.add(value);
  };
  for (const claim of names.map((name) => claims[name])) {
    if (typeof claim === 'string') claim.split(' ').forEach(add);
    else if (Array.isArray(claim)) claim.forEach(add);
  }
  return scopes;
}

/**
 * Names of the tools a POST /mcp calls with `tools/call` (a batch may call several). Names that cannot be a
 * scope (characters a scope may not contain) are left out: no tool can have such a name (the registry refuses
 * it), so the MCP layer answers them as unknown tools.
 */
export function toolCallNames(view: RequestView | undefined): string[] {
  const names = new Set<string>();
  for (const message of view?.messages ?? (view ? [view] : [])) {
    const name = message.method === 'tools/call' ? message.name : undefined;
    if (name !== undefined && isScopeToken(toolScope(name))) names.add(name);
  }
  return [...names];
}
