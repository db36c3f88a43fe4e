import { Module } from '@nestjs/common';
import { ToolsModule } from '../tools/tools.module.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { McpController } from './mcp.controller.js';
import { SessionRegistry } from './session-registry.service.js';

@Module({
  imports: [ToolsModule],
  controllers: [McpController],
  providers: [McpServerFactory, SessionRegistry],
})
export class McpModule {}
