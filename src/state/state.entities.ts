import { AgentStateEntity } from './agent-state.entity.js';
import { IdempotencyRecordEntity } from './idempotency-record.entity.js';

/** The state module's tables (composed with every other module's in src/persistence.ts). */
export const stateEntities = [AgentStateEntity, IdempotencyRecordEntity];
