import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { LoggerModule } from './common/logging/logger.module.js';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { McpModule } from './mcp/mcp.module.js';
import { OriginGuard } from './common/origin.guard.js';
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
        DatabaseModule,
        HealthModule,
        ToolsModule,
        ToolPacksModule.forRoot(config.mcp.toolPacks),
        McpModule,
      ],
      // Global guards run in this order: Origin/Host (403) → authentication (401) → scopes (403).
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_GUARD, useClass: OriginGuard },
      ],
    };
  }
}
