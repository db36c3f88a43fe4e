import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RequireScopes } from './require-scopes.decorator.js';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE, isScopeToken } from './scopes.js';

export const READ_SCOPES = Symbol('auth:read-scopes');

/** Methods that change nothing (RFC 9110 §9.2.1): the only ones a read scope opens. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * Any one of these scopes stands in for the `@RequireScopes` ones on safe methods (GET, HEAD); writes still need
 * the required scopes. Enforced by ScopeGuard.
 */
export const ReadableWith = (...scopes: string[]) => {
  if (scopes.length === 0 || !scopes.every(isScopeToken)) {
    throw new Error(`@ReadableWith: invalid scope(s) ${JSON.stringify(scopes)}`);
  }
  return SetMetadata(READ_SCOPES, scopes);
};

/**
 * On an admin controller: `mcp:admin` for everything, and `mcp:admin:read` for its reads, so a read-only operator
 * sees everything and changes nothing.
 */
export const AdminScopes = () => applyDecorators(RequireScopes(ADMIN_SCOPE), ReadableWith(ADMIN_READ_SCOPE));
