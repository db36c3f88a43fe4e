import type { KeyObject } from 'node:crypto';
import type { ProtectedHeaderParameters } from 'jose';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import passportJwt from 'passport-jwt';
import type { Principal } from '../common/principal.js';
import { AppConfig } from '../config/app-config.js';
import { TokenRejectedError } from './auth.errors.js';
import { bearerTokenOf } from './bearer-credentials.js';
import { SigningKeyResolver } from './signing-key.resolver.js';
import { principalFromClaims } from './token-claims.js';
import { VerifiedTokenCache, type VerifiedToken } from './verified-token.cache.js';

const STRATEGY = 'jwt';

/**
 * passport-jwt, configured as an OAuth 2.1 resource server (SECURITY.md §C):
 * - the token comes from the `Authorization: Bearer` header only (never the query string or the body);
 * - `SigningKeyResolver` checks algorithm, `typ`, `crit` and the exact issuer from the header, then finds the
 *   key in the IdP's JWKS;
 * - jsonwebtoken verifies the signature with the allow-listed algorithms, the issuer and exp/nbf with leeway;
 * - `validate` checks audience and required claims. That is all (`verifyToken`): it needs no body, so it runs
 *   before the body is read (see `BearerAuthHook`). The revocation list is admission's (AdmissionGuard).
 *
 * A token that passed the verification is remembered in `VerifiedTokenCache` (by its SHA-256, at most 60 s, never
 * past its `exp`, only while its key is still the one the JWKS holds): presented again, it skips the signature
 * check but not the time checks, and never the revocation list.
 *
 * Each app has its own passport `Authenticator`, not the process-wide singleton, so two apps in one process (tests)
 * never verify with each other's configuration.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(passportJwt.Strategy, STRATEGY) {
  private authenticator?: passport.Authenticator;
  /** The token and key passport is verifying for a request, for `validate` to cache once everything passed. */
  private readonly verifying = new WeakMap<
    object,
    { token: string; header: ProtectedHeaderParameters; key: KeyObject }
  >();

  constructor(
    private readonly config: AppConfig,
    private readonly keys: SigningKeyResolver,
    private readonly verified: VerifiedTokenCache,
  ) {
    super({
      jwtFromRequest: bearerTokenOf,
      secretOrKeyProvider: (req: object, rawJwt: string, done) => {
        keys.resolve(rawJwt).then(
          ({ key, header }) => {
            this.verifying.set(req, { token: rawJwt, header, key });
            // jsonwebtoken takes a KeyObject (its typings only mention PEM strings and buffers).
            done(null, key as unknown as Buffer);
          },
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
  validate(req: FastifyRequest, claims: Record<string, unknown>): Principal {
    const principal = principalFromClaims(claims, this.config.auth);
    const verifying = this.verifying.get(req);
    if (verifying) {
      this.verifying.delete(req);
      this.verified.set(verifying.token, {
        principal,
        header: verifying.header,
        key: verifying.key,
        exp: claims.exp as number, // principalFromClaims has checked it is a number
        nbf: typeof claims.nbf === 'number' ? claims.nbf : undefined,
      });
    }
    return principal;
  }

  /** A cached verification whose key is still the one the JWKS holds for its header; else it is dropped. */
  private async stillVerified(token: string): Promise<VerifiedToken | undefined> {
    const cached = this.verified.get(token);
    if (!cached) return undefined;
    let key: KeyObject | undefined;
    try {
      key = await this.keys.publishedKey(cached.header);
    } catch {
      key = undefined; // full verification below answers (401 for a key gone, 503 for an unreachable IdP)
    }
    if (key === cached.key) return cached;
    this.verified.delete(token);
    return undefined;
  }

  /**
   * The token's verification, everything but the revocation list: from the cache, else by passport. Resolves to
   * the principal; rejects with a `TokenRejectedError`, a jsonwebtoken error (both: the token is bad) or an
   * `AuthUnavailableError`. Reads headers only.
   */
  async verifyToken(req: FastifyRequest): Promise<Principal> {
    const token = bearerTokenOf(req);
    const cached = token === null ? undefined : await this.stillVerified(token);
    return cached?.principal ?? this.verifyWithPassport(req);
  }

  private verifyWithPassport(req: FastifyRequest): Promise<Principal> {
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
