import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { PinoLogger } from 'nestjs-pino';
import type { AuditEventInput, AuditRecorder } from '../audit/audit-recorder.js';
import { AuthError } from '../auth/auth.errors.js';
import { AuthChallenges } from '../auth/challenge.js';
import { Public } from '../auth/public.decorator.js';
import { RequireScopes } from '../auth/require-scopes.decorator.js';
import { setPrincipal } from '../common/principal.js';
import { requestViewOf } from '../common/request-view.js';
import { ScopeGuard, toolCallNames as namesOf } from './scope.guard.js';

const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

@RequireScopes('mcp:admin')
class AdminController {
  list(): void {}
  @RequireScopes('extra:scope')
  special(): void {}
}
class McpLikeController {
  post(): void {}
  @Public()
  open(): void {}
}

/** Records what the guard audits; `fail` makes it throw like an unreachable database. */
class FakeAudit {
  readonly events: AuditEventInput[] = [];
  fail = false;
  async record(event: AuditEventInput): Promise<void> {
    if (this.fail) throw new Error('database down');
    this.events.push(event);
  }
}

interface Req {
  method: string;
  routeOptions: { url: string };
  body?: unknown;
  id: string;
  ip: string;
  headers: Record<string, string>;
}

function context(handler: () => void, controller: object, req: Req): ExecutionContext {
  return {
    getType: () => 'http',
    getHandler: () => handler,
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

function request(scopes: string[], overrides: Partial<Req> = {}): Req {
  const req: Req = {
    method: 'POST',
    routeOptions: { url: '/mcp' },
    id: 'req-1',
    ip: '10.0.0.7',
    headers: { 'user-agent': 'agent/1.0' },
    ...overrides,
  };
  setPrincipal(req as never, { agentId: 'alice', clientId: 'app', scopes: new Set(scopes) });
  return req;
}

const toolsCall = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });
const logger = { setContext: () => {}, error: () => {} } as unknown as PinoLogger;

/** Records the auth-failure reasons the guard counts. */
class FakeMetrics {
  readonly failures: string[] = [];
  authFailure(reason: string): void {
    this.failures.push(reason);
  }
}

describe('ScopeGuard', () => {
  let audit: FakeAudit;
  let metrics: FakeMetrics;
  let guard: ScopeGuard;
  beforeEach(() => {
    audit = new FakeAudit();
    metrics = new FakeMetrics();
    guard = new ScopeGuard(
      new Reflector(),
      new AuthChallenges(PRM),
      audit as unknown as AuditRecorder,
      logger,
      metrics,
    );
  });

  async function denial(promise: Promise<boolean>): Promise<AuthError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AuthError);
    return error as AuthError;
  }

  it('lets a tools/call through when the token has tool:<name>', async () => {
    const req = request(['tool:echo'], { body: toolsCall('echo') });
    await expect(
      guard.canActivate(context(McpLikeController.prototype.post, McpLikeController, req)),
    ).resolves.toBe(true);
    expect(audit.events).toEqual([]);
  });

  it('denies a tools/call without tool:<name> with the 403 challenge, and audits the denial', async () => {
    const req = request(['tool:other'], { body: toolsCall('echo') });
    const error = await denial(
      guard.canActivate(context(McpLikeController.prototype.post, McpLikeController, req)),
    );
    expect(error.code).toBe('INSUFFICIENT_SCOPE');
    expect(error.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="tool:echo", resource_metadata="${PRM}"`,
    );
    expect(audit.events).toEqual([
      {
        kind: 'denied',
        outcome: 'denied_scope',
        agentId: 'alice',
        clientId: 'app',
        requestId: 'req-1',
        toolName: 'echo',
        errorCode: 'INSUFFICIENT_SCOPE',
        remoteAddr: '10.0.0.7',
        userAgent: 'agent/1.0',
      },
    ]);
    expect(metrics.failures).toEqual(['insufficient_scope']);
  });

  it('still denies when the audit trail cannot be written', async () => {
    audit.fail = true;
    const req = request([], { body: toolsCall('echo') });
    const error = await denial(
      guard.canActivate(context(McpLikeController.prototype.post, McpLikeController, req)),
    );
    expect(error.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('checks tool scopes on POST /mcp only', async () => {
    const get = request([], { method: 'GET', body: toolsCall('echo') });
    await expect(
      guard.canActivate(context(McpLikeController.prototype.post, McpLikeController, get)),
    ).resolves.toBe(true);
    const elsewhere = request([], { routeOptions: { url: '/other' }, body: toolsCall('echo') });
    await expect(
      guard.canActivate(context(McpLikeController.prototype.post, McpLikeController, elsewhere)),
    ).resolves.toBe(true);
  });

  it('enforces @RequireScopes on a class, and the union with a method', async () => {
    const admin = request(['mcp:admin'], { method: 'GET', routeOptions: { url: '/admin/grants' } });
    await expect(
      guard.canActivate(context(AdminController.prototype.list, AdminController, admin)),
    ).resolves.toBe(true);
    const error = await denial(
      guard.canActivate(context(AdminController.prototype.special, AdminController, admin)),
    );
    expect(error.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="extra:scope mcp:admin", resource_metadata="${PRM}"`,
    );
    const nobody = request(['tool:echo'], { method: 'GET', routeOptions: { url: '/admin/grants' } });
    const denied = await denial(
      guard.canActivate(context(AdminController.prototype.list, AdminController, nobody)),
    );
    expect(denied.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${PRM}"`,
    );
    expect(audit.events).toEqual([]);
  });

  it('skips @Public() routes', async () => {
    const req = request([], { body: toolsCall('echo') });
    await expect(
      guard.canActivate(context(McpLikeController.prototype.open, McpLikeController, req)),
    ).resolves.toBe(true);
  });

  it('refuses scopes that could not be put in a challenge', () => {
    expect(() => RequireScopes('has space')).toThrow(/invalid scope/);
    expect(() => RequireScopes()).toThrow(/invalid scope/);
  });
});

describe('toolCallNames', () => {
  const call = (name: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });
  /** The request view of a POST /mcp with this body (each test builds a new request: no memo shared). */
  const toolCallNames = (body: unknown) =>
    namesOf(requestViewOf({ method: 'POST', routeOptions: { url: '/mcp' }, headers: {}, body } as never));

  it('finds the tool of a tools/call and ignores other methods', () => {
    expect(toolCallNames(call('echo'))).toEqual(['echo']);
    expect(toolCallNames({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toEqual([]);
    expect(toolCallNames({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual([]);
  });

  it('finds every tool of a batch, once each', () => {
    expect(toolCallNames([call('a'), call('b'), call('a'), { method: 'ping' }])).toEqual(['a', 'b']);
  });

  it('leaves out what cannot name a tool (the MCP layer rejects those)', () => {
    expect(toolCallNames(call(42))).toEqual([]);
    expect(toolCallNames(call('has space'))).toEqual([]);
    expect(toolCallNames(call('quo"te'))).toEqual([]);
    expect(toolCallNames({ method: 'tools/call' })).toEqual([]);
    expect(toolCallNames(undefined)).toEqual([]);
    expect(namesOf(undefined)).toEqual([]); // not a POST /mcp
    expect(toolCallNames('tools/call')).toEqual([]);
  });
});
