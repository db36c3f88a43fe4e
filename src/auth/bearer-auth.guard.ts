import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { AuthFailures } from '../common/auth-failures.js';
import { setPrincipal, type Principal } from '../common/principal.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import { readCredentials, type Credentials } from './bearer-credentials.js';
import { AuthChallenges } from './challenge.js';
import { JwtStrategy } from './jwt.strategy.js';
import { isPublic } from './public.decorator.js';

/** The request carries no usable bearer credentials at all (as opposed to a token that fails its checks). */
class CredentialsError extends Error {
  constructor(readonly kind: Exclude<Credentials['kind'], 'bearer'>) {
    super(`no bearer token (${kind})`);
  }
}

/**
 * Default-deny authentication, the first global guard (after the Origin/Host check): every route needs a valid
 * bearer token unless it is `@Public()`. Answers (SECURITY.md §B):
 * - no credentials, or another scheme (`Basic …`)  → 401, challenge without `error`
 * - two `Authorization` headers                      → 400 `invalid_request`
 * - a token that fails any check                     → 401 `invalid_token`
 * - the IdP keys unreachable                         → 503 (a token problem is never a 5xx)
 * The token itself never reaches a log line or an error body.
 *
 * The part that needs no body (credentials, signature, claims) usually ran already, before the body was read
 * (`BearerAuthHook` calls `verifyAhead`): its outcome is taken over here, so a token is verified once per request
 * and the answer comes from here either way, in the guards' order. The revocation list is read next, by
 * AdmissionGuard (after the body: for a tools/call it is read in one statement with the call's grant).
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  /** Verifications started before the body was read, by request, until the guard takes them. */
  private readonly ahead = new WeakMap<object, Promise<Principal>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
    private readonly challenges: AuthChallenges,
    private readonly logger: PinoLogger,
    private readonly metrics: AuthFailures,
  ) {
    this.logger.setContext('auth');
  }

  /** Starts the verification of a request ahead of the guard; resolves to whether it passed (never rejects). */
  verifyAhead(req: FastifyRequest): Promise<boolean> {
    const verifying = this.verify(req);
    this.ahead.set(req, verifying);
    return verifying.then(
      () => true,
      () => false,
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublic(this.reflector, context)) return true;
    if (context.getType() !== 'http') throw this.challenges.unauthenticated();
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const verifying = this.ahead.get(req) ?? this.verify(req);
    this.ahead.delete(req);
    try {
      setPrincipal(req, await verifying);
      return true;
    } catch (error) {
      throw this.answer(error, String(req.id));
    }
  }

  /** Everything that needs no body: credentials, signature, claims (the verification cache included). */
  private verify(req: FastifyRequest): Promise<Principal> {
    const credentials = readCredentials(req.raw.rawHeaders);
    if (credentials.kind !== 'bearer') return Promise.reject(new CredentialsError(credentials.kind));
    return this.strategy.verifyToken(req);
  }

  private answer(error: unknown, requestId: string): DomainError {
    if (error instanceof CredentialsError) {
      switch (error.kind) {
        case 'none':
        case 'other-scheme':
          this.metrics.authFailure('missing_token');
          return this.challenges.unauthenticated();
        case 'multiple':
          this.metrics.authFailure('invalid_request');
          return this.challenges.invalidRequest('Send exactly one Authorization header');
        case 'malformed':
          this.metrics.authFailure('invalid_token');
          return this.challenges.invalidToken();
      }
    }
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
