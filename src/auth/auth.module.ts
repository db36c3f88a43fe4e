import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig } from '../config/app-config.js';
import { BearerAuthGuard } from './bearer-auth.guard.js';
import { BearerAuthHook } from './bearer-auth.hook.js';
import { AuthChallenges, resourceMetadataUrl } from './challenge.js';
import { DevAuthController } from './dev-auth.controller.js';
import { DevAuthService } from './dev-auth.service.js';
import { DevConsoleTokenController } from './dev-console-token.controller.js';
import { JwtStrategy } from './jwt.strategy.js';
import { SigningKeyResolver } from './signing-key.resolver.js';
import { VERIFIED_TOKEN_CACHE_DEFAULTS, VerifiedTokenCache } from './verified-token.cache.js';

/**
 * OAuth 2.1 resource server, authentication only: bearer JWT verification (passport-jwt, keys from the IdP's JWKS
 * or the dev key) yielding the request's `Principal`, and the challenges. What the principal may do (revocation,
 * scopes, grants) is admission's (src/admission/). The guard is registered globally, in order, by the composition
 * root (`app.module.ts`).
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [DevAuthController, DevConsoleTokenController],
  providers: [
    {
      provide: AuthChallenges,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new AuthChallenges(resourceMetadataUrl(config.http.publicUrl)),
    },
    DevAuthService,
    SigningKeyResolver,
    {
      provide: VerifiedTokenCache,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new VerifiedTokenCache({
          ...VERIFIED_TOKEN_CACHE_DEFAULTS,
          clockToleranceSec: config.auth.clockToleranceSec,
        }),
    },
    JwtStrategy,
    BearerAuthGuard,
    BearerAuthHook,
  ],
  exports: [BearerAuthGuard, BearerAuthHook, AuthChallenges],
})
export class AuthModule {}
