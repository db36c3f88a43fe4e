import type { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import passportJwt from 'passport-jwt';
import type { Principal } from '../common/principal.js';
import { AppConfig } from '../config/app-config.js';
import { AuthUnavailableError, TokenRejectedError } from './auth.errors.js';
import { bearerTokenOf } from './bearer-credentials.js';
import { RevocationService } from './revocation.service.js';
import { SigningKeyResolver } from './signing-key.resolver.js';
import { principalFromClaims } from './token-claims.js';

const STRATEGY = 'jwt';

/**
 * passport-jwt, configured as an OAuth 2.1 resource server (SECURITY.md §C):
 * - the token comes from the `Authorization: Bearer` header only (never the query string or the body);
 * - `SigningKeyResolver` checks algorithm, `typ`, `crit` and the exact issuer from the header, then finds the
 *   key in the IdP's JWKS;
 * - jsonwebtoken verifies the signature with the allow-listed algorithms, the issuer and exp/nbf with leeway;
 * - `validate` checks audience and required claims, then the revocation list (a database read every time).
 *
 * Each app has its own passport `Authenticator`, not the process-wide singleton, so two apps in one process (tests)
 * never verify with each other's configuration.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(passportJwt.Strategy, STRATEGY) {
  private authenticator?: passport.Authenticator;

  constructor(
    private readonly config: AppConfig,
    keys: SigningKeyResolver,
    private readonly revocations: RevocationService,
  ) {
    super({
      jwtFromRequest: bearerTokenOf,
      secretOrKeyProvider: (_req, rawJwt: string, done) => {
        keys.keyFor(rawJwt).then(
          // jsonwebtoken takes a KeyObject (its typings only mention PEM strings and buffers).
          (key: KeyObject) => done(null, key as unknown as Buffer),
          (error: unknown) => done(error),
        );
      },
      issuer: config.auth.issuer,
      algorithms: config.auth.algorithms,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: config.auth.clockToleranceSec },
      passReqToCallback: true,
    });
  }

  /** Called by the PassportStrategy mixin to register this strategy: with this app's own authenticator. */
  getPassportInstance(): passport.Authenticator {
    return (this.authenticator ??= new passport.Authenticator());
  }

  /** passport's verify callback: the claims have a valid signature, issuer and lifetime by now. */
  async validate(_req: FastifyRequest, claims: Record<string, unknown>): Promise<Principal> {
    const principal = principalFromClaims(claims, this.config.auth);
    let revoked: boolean;
    try {
      revoked = await this.revocations.isRevoked(principal.tokenId!);
    } catch (error) {
      throw new AuthUnavailableError('Cannot read the token revocation list', error);
    }
    if (revoked) throw new TokenRejectedError('revoked');
    return principal;
  }

  /**
   * Runs passport for this request. Resolves to the principal; rejects with a `TokenRejectedError`, a
   * jsonwebtoken error (both: the token is bad) or an `AuthUnavailableError`.
   */
  authenticateRequest(req: FastifyRequest): Promise<Principal> {
    return new Promise((resolve, reject) => {
      const middleware = this.getPassportInstance().authenticate(
        STRATEGY,
        { session: false },
        (error: unknown, user: Principal | false, info: unknown) => {
          if (error) reject(asError(error));
          else if (user) resolve(user);
          else reject(asError(info));
        },
      ) as (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
      middleware(req, undefined, (error?: unknown) => reject(asError(error)));
    });
  }
}

/** passport reports failures with whatever the strategy gave it; anything that is not an Error is a bad token. */
function asError(value: unknown): Error {
  return value instanceof Error
    ? value
    : new TokenRejectedError(typeof value === 'string' ? value : 'no token');
}
