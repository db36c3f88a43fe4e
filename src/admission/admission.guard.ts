import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { setAdmission, type Admission } from '../common/admission.js';
import { AuthFailures } from '../common/auth-failures.js';
import { principalOf, type Principal } from '../common/principal.js';
import { requestViewOf, type RequestView } from '../common/request-view.js';
import { AuthUnavailableError } from '../auth/auth.errors.js';
import { AuthChallenges } from '../auth/challenge.js';
import { isPublic } from '../auth/public.decorator.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { RevocationService } from './revocation.service.js';
import { ToolGate } from './tool-gate.js';

/**
 * Admission, the global guard right after authentication (so a revoked token is a 401 before the 2026-07-28
 * header checks and before any 403): reads the token's revocation list on every authenticated request (a database
 * read every time, cached verification or not), and yields the request's `Admission` (`admissionOf(req)`).
 * For one `tools/call` of a known tool it reads the call's kill switch and grants in the same statement (ToolGate):
 * the admission carries that reading down to the pipeline (controller → request identity → ResolveStep), one
 * round trip per call for revocation and policy. Answers: revoked → 401 `invalid_token`; the revocation list
 * unreachable → 503 AUTH_UNAVAILABLE.
 */
@Injectable()
export class AdmissionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly registry: ToolRegistry,
    private readonly gate: ToolGate,
    private readonly revocations: RevocationService,
    private readonly challenges: AuthChallenges,
    private readonly logger: PinoLogger,
    private readonly metrics: AuthFailures,
  ) {
    this.logger.setContext('auth');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublic(this.reflector, context) || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    // Fastify's clock starts at the request's arrival (onRequest).
    const receivedAt = Date.now() - context.switchToHttp().getResponse<FastifyReply>().elapsedTime;
    let admission: Admission | undefined;
    try {
      admission = await this.admit(principalOf(req), requestViewOf(req));
    } catch (error) {
      this.metrics.authFailure('auth_unavailable');
      // A 503: the exception filter logs it (with its cause) like every 5xx.
      throw new AuthUnavailableError('Cannot read the token revocation list', error);
    }
    if (!admission) {
      this.metrics.authFailure('invalid_token');
      this.logger.debug({ reason: 'revoked', requestId: String(req.id) }, 'access token rejected');
      throw this.challenges.invalidToken();
    }
    setAdmission(req, { ...admission, receivedAt });
    return true;
  }

  /** The admission of a principal whose token is not revoked; undefined for a revoked one. */
  private async admit(principal: Principal, view: RequestView | undefined): Promise<Admission | undefined> {
    // A batch's view names no method.
    const tool =
      view?.method === 'tools/call' && view.name !== undefined
        ? this.registry.resolve(view.name, view.meta)
        : undefined;
    const { tokenId } = principal;
    if (!tool || tokenId === undefined)
      return (await this.revocations.isRevoked(tokenId!)) ? undefined : { principal };
    const { revoked, ...reading } = await this.gate.readWithRevocation(tokenId, principal, tool);
    return revoked
      ? undefined
      : { principal, gate: { tool: { name: tool.name, version: tool.version }, ...reading } };
  }
}
