/**
 * Scope names: `tool:<name>` lets a token call (and see) a tool (`toolScope`, common/scopes.ts); `mcp:admin` opens
 * `/admin`; `mcp:admin:read` opens its reads only (see `AdminScopes`). No hierarchies.
 */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_READ_SCOPE = 'mcp:admin:read';

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
