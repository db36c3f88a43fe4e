import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { setPrincipal } from '../common/principal.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import { readCredentials } from './bearer-credentials.js';
import { AuthChallenges } from './challenge.js';
import { JwtStrategy } from './jwt.strategy.js';
import { isPublic } from './public.decorator.js';

/**
 * Default-deny authentication, a global guard right after the Origin/Host guard: every route needs a valid bearer
 * token unless it is `@Public()`. Answers (SECURITY.md §B):
 * - no credentials, or another scheme (`Basic …`)  → 401, challenge without `error`
 * - two `Authorization` headers                      → 400 `invalid_request`
 * - a token that fails any check, or is revoked       → 401 `invalid_token`
 * - the IdP keys or the revocation list unreachable   → 503 (a token problem is never a 5xx)
 * The token itself never reaches a log line or an error body.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
    private readonly challenges: AuthChallenges,
    private readonly logger: PinoLogger,
    private readonly metrics: MetricsService,
  ) {
    this.logger.setContext('auth');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublic(this.reflector, context)) return true;
    if (context.getType() !== 'http') throw this.challenges.unauthenticated();
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const credentials = readCredentials(req.raw.rawHeaders);
    switch (credentials.kind) {
      case 'none':
      case 'other-scheme':
        this.metrics.authFailure('missing_token');
        throw this.challenges.unauthenticated();
      case 'multiple':
        this.metrics.authFailure('invalid_request');
        throw this.challenges.invalidRequest('Send exactly one Authorization header');
      case 'malformed':
        this.metrics.authFailure('invalid_token');
        throw this.challenges.invalidToken();
      case 'bearer':
        break;
    }
    try {
      setPrincipal(req, await this.strategy.authenticateRequest(req));
      return true;
    } catch (error) {
      throw this.answer(error, String(req.id));
    }
  }

  private answer(error: unknown, requestId: string): DomainError {
    // A 503: the exception filter logs it (with its cause) like every 5xx.
    if (error instanceof AuthUnavailableError) {
      this.metrics.authFailure('auth_unavailable');
      return error;
    }
    const name = (error as { name?: unknown } | null)?.name;
    const expired = name === 'TokenExpiredError';
    this.metrics.authFailure(expired ? 'expired_token' : 'invalid_token');
    // jsonwebtoken and our own checks explain why; that stays in the log (the message holds no token).
    const reason = error instanceof Error ? error.message : String(error);
    if (
      error instanceof TokenRejectedError ||
      /^(JsonWebTokenError|TokenExpiredError|NotBeforeError)$/.test(String(name))
    ) {
      this.logger.debug({ reason, requestId }, 'access token rejected');
    } else {
      this.logger.warn({ reason, requestId }, 'access token rejected by an unexpected error');
    }
    return this.challenges.invalidToken(expired);
  }
}
