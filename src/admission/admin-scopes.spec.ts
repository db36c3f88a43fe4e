import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { PinoLogger } from 'nestjs-pino';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { AdminScopes, ReadableWith } from '../auth/admin-scopes.decorator.js';
import { AuthError } from '../auth/auth.errors.js';
import { AuthChallenges } from '../auth/challenge.js';
import { setPrincipal } from '../common/principal.js';
import { ScopeGuard } from './scope.guard.js';

@AdminScopes()
class AdminController {
  handler(): void {}
}

/** The ScopeGuard with `@AdminScopes()`: reads with mcp:admin or mcp:admin:read, writes with mcp:admin only. */
describe('@AdminScopes (ScopeGuard)', () => {
  const guard = new ScopeGuard(
    new Reflector(),
    new AuthChallenges('https://mcp.example.com/.well-known/oauth-protected-resource/mcp'),
    {} as AuditRecorder,
    { setContext: () => {} } as unknown as PinoLogger,
    { authFailure: () => {} },
  );
  const allows = async (method: string, scopes: string[]) => {
    const req = { method, routeOptions: { url: '/admin/grants' }, headers: {} };
    setPrincipal(req as never, { agentId: 'ops', scopes: new Set(scopes) });
    const context = {
      getType: () => 'http',
      getHandler: () => AdminController.prototype.handler,
      getClass: () => AdminController,
      switchToHttp: () => ({ getRequest: () => req }),
    } as unknown as ExecutionContext;
    try {
      return await guard.canActivate(context);
    } catch (error) {
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).headers['www-authenticate']).toContain('scope="mcp:admin"');
      return false;
    }
  };

  it.each(['GET', 'HEAD'])('lets mcp:admin:read %s', async (method) => {
    expect(await allows(method, ['mcp:admin:read'])).toBe(true);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])(
    'refuses mcp:admin:read a %s, which mcp:admin may',
    async (method) => {
      expect(await allows(method, ['mcp:admin:read'])).toBe(false);
      expect(await allows(method, ['mcp:admin'])).toBe(true);
    },
  );

  it('refuses reads to a token with neither scope', async () => {
    expect(await allows('GET', ['tool:echo', 'mcp:other'])).toBe(false);
  });

  it('refuses to be declared without a valid scope', () => {
    expect(() => ReadableWith()).toThrow(/invalid scope/);
    expect(() => ReadableWith('has space')).toThrow(/invalid scope/);
  });
});
