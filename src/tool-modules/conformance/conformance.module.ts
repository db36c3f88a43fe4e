import { Module } from '@nestjs/common';
import { ToolsModule } from '../../tools/tools.module.js';
import { ConformanceChangeTools } from './conformance-changes.tools.js';
import { ConformanceInputTools } from './conformance-input.tools.js';
import { ConformanceResources } from './conformance.resources.js';
import { ConformanceTools } from './conformance.tools.js';

/**
 * Fixtures of the official MCP conformance suite (scripts/conformance.sh). Opt-in: TOOL_PACKS must name it.
 * Imports ToolsModule for the ChangeNotifier of its list-changed hooks.
 */
@Module({
  imports: [ToolsModule],
  providers: [ConformanceTools, ConformanceInputTools, ConformanceChangeTools, ConformanceResources],
})
export class ConformanceModule {}
