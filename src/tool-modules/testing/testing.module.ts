import { Module } from '@nestjs/common';
import { TestingTools, VersionedToolsV1, VersionedToolsV2 } from './testing.tools.js';

/**
 * Fixtures for the resilience tests (breakers, retries, timeouts, versions, limits). Opt-in: loaded only when
 * `TOOL_PACKS` names `testing`, never by default.
 */
@Module({ providers: [TestingTools, VersionedToolsV1, VersionedToolsV2] })
export class TestingModule {}
