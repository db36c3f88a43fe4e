import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { auditCallerOf, auditEvent } from '../audit/audit-event.builder.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { READ_SCOPES, SAFE_METHODS } from '../auth/admin-scopes.decorator.js';
import { AuthChallenges } from '../auth/challenge.js';
import { isPublic } from '../auth/public.decorator.js';
import { REQUIRED_SCOPES } from '../auth/require-scopes.decorator.js';
import { isScopeToken } from '../auth/scopes.js';
import { AuthFailures } from '../common/auth-failures.js';
import { principalOf } from '../common/principal.js';
import { requestViewOf, type RequestView } from '../common/request-view.js';
import { toolScope } from '../common/scopes.js';

/**
 * Scopes, a global guard after authentication and admission (so the order is Origin 403 → 401 → scope 403):
 * - routes marked `@RequireScopes(...)` need every listed scope (on GET/HEAD, one `@ReadableWith` scope will do);
 * - `POST /mcp` carrying `tools/call` of tool X needs `tool:X`, read from the request view (RequestViewGuard has
 *   checked a 2026-07-28 request's `Mcp-Name` against it already), so the 403 challenge goes out before the MCP
 *   transport starts any stream. Each denied call is audited.
 * The tool pipeline checks scope and grant again on every call; this guard is what gives clients the HTTP 403
 * `insufficient_scope` challenge that triggers step-up authorization.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly challenges: AuthChallenges,
    private readonly audit: AuditRecorder,
    private readonly logger: PinoLogger,
    private readonly metrics: AuthFailures,
  ) {
    this.logger.setContext('auth');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublic(this.reflector, context) || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const principal = principalOf(req);

    const targets = [context.getHandler(), context.getClass()];
    const required = this.reflector.getAllAndMerge<string[]>(REQUIRED_SCOPES, targets);
    // A read scope (`@ReadableWith`, e.g. mcp:admin:read) stands in for the required ones on GET and HEAD only.
    const reads =
      SAFE_METHODS.has(req.method) &&
      this.reflector
        .getAllAndMerge<string[]>(READ_SCOPES, targets)
        .some((scope) => principal.scopes.has(scope));
    if (!reads && required.some((scope) => !principal.scopes.has(scope))) {
      this.metrics.authFailure('insufficient_scope');
      throw this.challenges.insufficientScope([...new Set(required)]);
    }

    const tools = toolCallNames(requestViewOf(req));
    const denied = tools.filter((name) => !principal.scopes.has(toolScope(name)));
    if (denied.length) {
      await this.recordDenials(req, denied);
      this.metrics.authFailure('insufficient_scope');
      throw this.challenges.insufficientScope(tools.map(toolScope));
    }
    return true;
  }

  private async recordDenials(req: FastifyRequest, tools: string[]): Promise<void> {
    const caller = auditCallerOf(req);
    for (const toolName of tools) {
      try {
        await this.audit.record(
          auditEvent('denied', caller, {
            name: toolName,
            outcome: 'denied_scope',
            errorCode: 'INSUFFICIENT_SCOPE',
          }),
        );
      } catch (error) {
        // The call is denied either way; a lost audit row must be loud.
        this.logger.error(
          { err: error, requestId: caller.requestId, tool: toolName },
          'cannot audit a scope denial',
        );
      }
    }
  }
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
