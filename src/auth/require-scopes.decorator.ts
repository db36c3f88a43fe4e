import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { isScopeToken } from './scopes.js';

export const REQUIRED_SCOPES = Symbol('auth:required-scopes');

/**
 * Every listed scope is required (on a class and a method: the union of both). A token without them gets
 * 403 with a `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` challenge. E.g.
 * `@RequireScopes('mcp:admin')` on admin controllers.
 */
export const RequireScopes = (...scopes: string[]): CustomDecorator<symbol> => {
  const invalid = scopes.filter((scope) => !isScopeToken(scope));
  if (scopes.length === 0 || invalid.length) {
    throw new Error(`@RequireScopes: invalid scope(s) ${JSON.stringify(invalid)}`);
  }
  return SetMetadata(REQUIRED_SCOPES, scopes);
};
