import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ToolsModule } from '../tools/tools.module.js';
import { ConsoleAssets } from './console-assets.js';
import { GrantsController } from './grants.controller.js';
import { AdminMeController } from './me.controller.js';
import { MetricsSummaryController } from './metrics-summary.controller.js';
import { MetricsSummary } from './metrics-summary.service.js';
import { TokenRevocationsController } from './token-revocations.controller.js';
import { ToolSwitchController } from './tool-switch.controller.js';
import { ToolsCatalogController } from './tools.controller.js';

/**
 * `/admin/*`: operator REST API. Every route needs scope `mcp:admin` (reads: or `mcp:admin:read`); every action is
 * audited. Also the admin console at `/admin/console/`, a static page that uses this API.
 */
@Module({
  imports: [ToolsModule, AuthModule],
  controllers: [
    GrantsController,
    TokenRevocationsController,
    ToolsCatalogController,
    ToolSwitchController,
    AdminMeController,
    MetricsSummaryController,
  ],
  providers: [MetricsSummary, ConsoleAssets],
})
export class AdminModule {}
