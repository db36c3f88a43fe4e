import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ToolsModule } from '../tools/tools.module.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { McpFeatureHandlers } from './feature-handlers.service.js';
import { McpController } from './mcp.controller.js';
import { McpSessionEntity } from './mcp-session.entity.js';
import { SessionRegistry } from './session-registry.service.js';
import { SessionStore } from './session-store.service.js';
import { SharedServer } from './shared-server.service.js';

@Module({
  imports: [ToolsModule, TypeOrmModule.forFeature([McpSessionEntity])],
  controllers: [McpController],
  providers: [McpServerFactory, McpFeatureHandlers, SessionRegistry, SessionStore, SharedServer],
})
export class McpModule {}
