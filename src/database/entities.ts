/** Every TypeORM entity of the app, listed once. Feature modules add theirs here. */
import type { EntitySchema } from 'typeorm';
import { AuditEventEntity } from '../audit/audit-event.entity.js';
import { RevokedTokenEntity } from '../auth/revoked-token.entity.js';
import { McpSessionEntity } from '../mcp/mcp-session.entity.js';
import { PermissionGrantEntity } from '../permissions/permission-grant.entity.js';
import { ToolSwitchEntity } from '../resilience/tool-switch.entity.js';
import { AgentStateEntity } from '../state/agent-state.entity.js';
import { IdempotencyRecordEntity } from '../state/idempotency-record.entity.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
export const entities: (Function | EntitySchema)[] = [
  PermissionGrantEntity,
  RevokedTokenEntity,
  AgentStateEntity,
  IdempotencyRecordEntity,
  AuditEventEntity,
  ToolSwitchEntity,
  McpSessionEntity,
];
