/**
 * Every migration of the core modules, in order (a pack lists its own in its folder; src/persistence.ts composes
 * both). Listed as classes so the same list works compiled (dist/) and under ts-jest.
 */
import type { MigrationInterface } from 'typeorm';
import { PermissionGrant1764200000000 } from './1764200000000-PermissionGrant.js';
import { RevokedToken1764200001000 } from './1764200001000-RevokedToken.js';
import { AgentState1764200002000 } from './1764200002000-AgentState.js';
import { IdempotencyRecord1764200002500 } from './1764200002500-IdempotencyRecord.js';
import { AuditEvent1764200003000 } from './1764200003000-AuditEvent.js';
import { ToolSwitch1764200004000 } from './1764200004000-ToolSwitch.js';
import { McpSession1764200005000 } from './1764200005000-McpSession.js';
import { IdempotencyToolVersion1764200006300 } from './1764200006300-IdempotencyToolVersion.js';
import { AuditProtocolFlow1764200007000 } from './1764200007000-AuditProtocolFlow.js';

export const coreMigrations: (new () => MigrationInterface)[] = [
  PermissionGrant1764200000000,
  RevokedToken1764200001000,
  AgentState1764200002000,
  IdempotencyRecord1764200002500,
  AuditEvent1764200003000,
  ToolSwitch1764200004000,
  McpSession1764200005000,
  IdempotencyToolVersion1764200006300,
  AuditProtocolFlow1764200007000,
];
