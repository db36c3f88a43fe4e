import { Module } from '@nestjs/common';
import { ConformanceResources } from './conformance.resources.js';
import { ConformanceTools } from './conformance.tools.js';

/** Fixtures of the official MCP conformance suite (scripts/conformance.sh). Opt-in: TOOL_PACKS must name it. */
@Module({ providers: [ConformanceTools, ConformanceResources] })
export class ConformanceModule {}
