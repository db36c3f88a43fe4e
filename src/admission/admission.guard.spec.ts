import type { ExecutionContext } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import type { PinoLogger } from 'nestjs-pino';
import { AppModule } from '../app.module.js';
import { AuthError, AuthUnavailableError } from '../auth/auth.errors.js';
import { BearerAuthGuard } from '../auth/bearer-auth.guard.js';
import { AuthChallenges } from '../auth/challenge.js';
import { Public } from '../auth/public.decorator.js';
import { admissionOf, takeGateReading } from '../common/admission.js';
import { setPrincipal } from '../common/principal.js';
import type { HotSql, Statement } from '../database/hot-sql.js';
import { RateLimitGuard } from '../mcp/rate-limit.guard.js';
import { RequestViewGuard } from '../mcp/request-view.guard.js';
import type { ToolRegistry } from '../tools/tool-registry.service.js';
import { AdmissionGuard } from './admission.guard.js';
import { RevocationService } from './revocation.service.js';
import { ScopeGuard } from './scope.guard.js';
import { ToolGate } from './tool-gate.js';

const ECHO = { name: 'echo', version: '2.0.0' };

/** Answers like PostgreSQL would and counts the statements: `revoked` jtis, `disabled` tool names. */
class FakeSql {
  readonly statements: string[] = [];
  revoked = new Set<string>();
  down = false;
  async rows(statement: Statement, values: string[][]): Promise<object[]> {
    this.statements.push(statement.name);
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (statement.name === 'revoked_token_among')
      return values[0].filter((jti) => this.revoked.has(jti)).map((jti) => ({ jti }));
    const [jtis, agents] =
      statement.name === 'tool_gate_revocation' ? [values[0], values[1]] : [[], values[0]];
    return agents.map((agent, i) => ({
      i: String(i + 1),
      ...(statement.name === 'tool_gate_revocation' && { revoked: this.revoked.has(jtis[i]) }),
      disabled: false,
      granted: agent === 'alice',
      grantedName: agent === 'alice',
    }));
  }
}

class Echo {
  post(): void {}
  @Public()
  open(): void {}
}

const registry = {
  resolve: (name: string) => (name === ECHO.name ? ECHO : undefined),
} as unknown as ToolRegistry;
const logger = { setContext: () => {}, debug: () => {} } as unknown as PinoLogger;

function request(body: unknown, jti = 'jti-1') {
  const req = { method: 'POST', routeOptions: { url: '/mcp' }, headers: {}, body, id: 'req-1' };
  setPrincipal(req as never, { agentId: 'alice', scopes: new Set(['tool:echo']), tokenId: jti });
  return req;
}

const ELAPSED_MS = 700;

function context(req: object, handler: () => void = Echo.prototype.post): ExecutionContext {
  return {
    getType: () => 'http',
    getHandler: () => handler,
    getClass: () => Echo,
    // The request arrived ELAPSED_MS ago (Fastify's clock since onRequest).
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({ elapsedTime: ELAPSED_MS }) }),
  } as unknown as ExecutionContext;
}

const toolsCall = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });

describe('AdmissionGuard', () => {
  let sql: FakeSql;
  let failures: string[];
  let guard: AdmissionGuard;
  let gate: ToolGate;
  beforeEach(() => {
    sql = new FakeSql();
    failures = [];
    gate = new ToolGate(sql as unknown as HotSql);
    guard = new AdmissionGuard(
      new Reflector(),
      registry,
      gate,
      new RevocationService({} as never, sql as unknown as HotSql, {} as never),
      new AuthChallenges('https://mcp.example.com/.well-known/oauth-protected-resource/mcp'),
      logger,
      { authFailure: (reason) => failures.push(reason) },
    );
  });

  it('reads revocation, kill switch and grants of a tools/call in ONE statement, for the pipeline', async () => {
    const req = request(toolsCall('echo'));
    await expect(guard.canActivate(context(req))).resolves.toBe(true);
    expect(sql.statements).toEqual(['tool_gate_revocation']);
    const admission = admissionOf(req as never)!;
    expect(admission).toEqual({
      principal: expect.objectContaining({ agentId: 'alice' }),
      gate: { tool: ECHO, disabled: false, granted: true, grantedName: true },
      receivedAt: expect.any(Number),
    });
    // When the request arrived, so that the call's budget counts the wait before the pipeline.
    expect(Math.abs(Date.now() - ELAPSED_MS - admission.receivedAt!)).toBeLessThan(500);
    // The pipeline takes the reading once, for the tool it was read for; a later round reads afresh.
    expect(takeGateReading(admission, { ...ECHO, version: '1.0.0' })).toBeUndefined();
    expect(takeGateReading(admission, ECHO)).toMatchObject({ granted: true });
    expect(takeGateReading(admission, ECHO)).toBeUndefined();
  });

  it('reads the revocation alone for anything but one tools/call of a known tool', async () => {
    for (const body of [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      toolsCall('nope'),
      [toolsCall('echo')],
    ]) {
      const req = request(body);
      await expect(guard.canActivate(context(req))).resolves.toBe(true);
      expect(admissionOf(req as never)).toEqual({
        principal: expect.objectContaining({ agentId: 'alice' }),
        receivedAt: expect.any(Number),
      });
    }
    const get = { ...request(undefined), method: 'GET' };
    await expect(guard.canActivate(context(get))).resolves.toBe(true);
    expect(sql.statements).toEqual(Array(4).fill('revoked_token_among'));
  });

  it.each([
    ['a tools/call', toolsCall('echo'), 'tool_gate_revocation'],
    ['any other request', { jsonrpc: '2.0', id: 1, method: 'ping' }, 'revoked_token_among'],
  ])(
    'answers a revoked token on %s with 401 invalid_token, and admits nothing',
    async (_kind, body, statement) => {
      sql.revoked.add('jti-1');
      const req = request(body);
      const error = await guard.canActivate(context(req)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('INVALID_TOKEN');
      expect((error as AuthError).headers['www-authenticate']).toContain('error="invalid_token"');
      expect(sql.statements).toEqual([statement]);
      expect(admissionOf(req as never)).toBeUndefined();
      expect(failures).toEqual(['invalid_token']);
    },
  );

  it('answers 503 AUTH_UNAVAILABLE when the revocation list cannot be read', async () => {
    sql.down = true;
    const error = await guard.canActivate(context(request(toolsCall('echo')))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthUnavailableError);
    expect((error as AuthUnavailableError).code).toBe('AUTH_UNAVAILABLE');
    expect(failures).toEqual(['auth_unavailable']);
  });

  it('skips @Public() routes', async () => {
    await expect(guard.canActivate(context(request(toolsCall('echo')), Echo.prototype.open))).resolves.toBe(
      true,
    );
    expect(sql.statements).toEqual([]);
  });

  it('runs right after authentication: a revoked token is 401 before header checks (400) and scopes (403)', () => {
    const providers = AppModule.forRoot({ mcp: {} } as never).providers as {
      provide: unknown;
      useExisting?: unknown;
      useClass?: unknown;
    }[];
    const guards = providers.filter((p) => p.provide === APP_GUARD).map((p) => p.useExisting ?? p.useClass);
    expect(guards).toEqual([BearerAuthGuard, AdmissionGuard, RequestViewGuard, ScopeGuard, RateLimitGuard]);
  });
});
