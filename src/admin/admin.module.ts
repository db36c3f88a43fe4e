import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ToolsModule } from '../tools/tools.module.js';
import { GrantsController } from './grants.controller.js';
import { TokenRevocationsController } from './token-revocations.controller.js';
import { ToolSwitchController } from './tool-switch.controller.js';
import { ToolsCatalogController } from './tools.controller.js';

/** `/admin/*`: operator REST API. Every route needs scope `mcp:admin`; every action is audited. */
@Module({
  imports: [ToolsModule, AuthModule],
  controllers: [GrantsController, TokenRevocationsController, ToolsCatalogController, ToolSwitchController],
})
export class AdminModule {}
