import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { LoggerModule } from './common/logging/logger.module.js';
import { RequestViewGuard } from './mcp/request-view.guard.js';
import { AppConfig } from './config/app-config.js';
import { AdminModule } from './admin/admin.module.js';
import { AdmissionGuard } from './admission/admission.guard.js';
import { AdmissionModule } from './admission/admission.module.js';
import { ScopeGuard } from './admission/scope.guard.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BearerAuthGuard } from './auth/bearer-auth.guard.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { McpModule } from './mcp/mcp.module.js';
import { persistence } from './persistence.js';
import { HttpTimingInterceptor } from './metrics/http-timing.interceptor.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RateLimitGuard } from './mcp/rate-limit.guard.js';
import { RateLimitModule } from './mcp/rate-limit.module.js';
import { ToolPacksModule } from './tool-modules/tool-packs.module.js';
import { ToolsModule } from './tools/tools.module.js';

/** Composition root: every feature module and every global guard/filter, in one visible order. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule,
        DatabaseModule.forRoot(persistence),
        AuditModule,
        AuthModule,
        AdmissionModule,
        MetricsModule,
        HealthModule,
        ToolsModule,
        ToolPacksModule.forRoot(config.mcp.toolPacks),
        McpModule,
        AdminModule,
        RateLimitModule,
      ],
      // The Origin/Host check (403) runs before all of these, as the first request hook (app.factory.ts).
      // Global guards run in this order: authentication (401) → admission (401 for a revoked token, read with a
      // tools/call's gate) → the MCP request view's protocol checks (400, 2026-07-28 headers vs body) → scopes
      // (403) → rate limits (429; keyed on the authenticated agent, so it must stay after authentication).
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_GUARD, useExisting: BearerAuthGuard },
        { provide: APP_GUARD, useExisting: AdmissionGuard },
        { provide: APP_GUARD, useClass: RequestViewGuard },
        { provide: APP_GUARD, useExisting: ScopeGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_INTERCEPTOR, useClass: HttpTimingInterceptor },
      ],
    };
  }
}
