import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { ToolsModule } from '../tools/tools.module.js';
import { BearerAuthGuard } from './bearer-auth.guard.js';
import { BearerAuthHook } from './bearer-auth.hook.js';
import { AuthChallenges, resourceMetadataUrl } from './challenge.js';
import { DevAuthController } from './dev-auth.controller.js';
import { DevAuthService } from './dev-auth.service.js';
import { DevConsoleTokenController } from './dev-console-token.controller.js';
import { JwtStrategy } from './jwt.strategy.js';
import { ProtectedResourceController } from './protected-resource.controller.js';
import { RevocationService } from './revocation.service.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';
import { ScopeGuard } from './scope.guard.js';
import { SigningKeyResolver } from './signing-key.resolver.js';
import { VERIFIED_TOKEN_CACHE_DEFAULTS, VerifiedTokenCache } from './verified-token.cache.js';

/**
 * OAuth 2.1 resource server: bearer JWT authentication (passport-jwt, keys from the IdP's JWKS or the dev key),
 * the revocation list, scope checks and the RFC 9728 metadata. The guards are registered globally, in order,
 * by the composition root (`app.module.ts`).
 */
@Module({
  imports: [TypeOrmModule.forFeature([RevokedTokenEntity]), ToolsModule, DiscoveryModule],
  controllers: [ProtectedResourceController, DevAuthController, DevConsoleTokenController],
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
    RevocationService,
    JwtStrategy,
    BearerAuthGuard,
    BearerAuthHook,
    ScopeGuard,
  ],
  exports: [RevocationService, BearerAuthGuard, BearerAuthHook, ScopeGuard, AuthChallenges],
})
export class AuthModule {}
