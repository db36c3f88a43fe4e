import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One row of the append-only audit trail (migration 1764200003000-AuditEvent). Written only by `AuditService`
 * with multi-row INSERTs; never updated. `id` is a bigint, which the `pg` driver returns as a string.
 */
@Entity('audit_event')
@Index('audit_event_time_idx', ['occurredAt', 'id'])
@Index('audit_event_agent_time_idx', ['agentId', 'occurredAt', 'id'])
@Index('audit_event_tool_time_idx', ['toolName', 'occurredAt', 'id'])
@Index('audit_event_outcome_time_idx', ['outcome', 'occurredAt', 'id'])
@Index('audit_event_flow_time_idx', ['flowId', 'occurredAt', 'id'], { where: 'flow_id IS NOT NULL' })
export class AuditEventEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt!: Date;

  @Column({ type: 'text' })
  kind!: 'tool_call' | 'denied' | 'admin' | 'state_change';

  @Column({ name: 'agent_id', type: 'text', nullable: true })
  agentId!: string | null;

  @Column({ name: 'client_id', type: 'text', nullable: true })
  clientId!: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;

  @Column({ name: 'session_id', type: 'text', nullable: true })
  sessionId!: string | null;

  @Column({ name: 'tool_name', type: 'text', nullable: true })
  toolName!: string | null;

  @Column({ name: 'tool_version', type: 'text', nullable: true })
  toolVersion!: string | null;

  @Column({ type: 'text' })
  outcome!: string;

  @Column({ name: 'error_code', type: 'text', nullable: true })
  errorCode!: string | null;

  @Column({ name: 'duration_ms', type: 'double precision', nullable: true })
  durationMs!: number | null;

  @Column({ name: 'param_bytes', type: 'integer', nullable: true })
  paramBytes!: number | null;

  @Column({ name: 'result_bytes', type: 'integer', nullable: true })
  resultBytes!: number | null;

  @Column({ name: 'params_sha256', type: 'text', nullable: true })
  paramsSha256!: string | null;

  @Column({ name: 'remote_addr', type: 'text', nullable: true })
  remoteAddr!: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  detail!: Record<string, unknown> | null;

  /** The protocol revision of the call (migration 1764200007000-AuditProtocolFlow). */
  @Column({ name: 'protocol_version', type: 'varchar', length: 32, nullable: true })
  protocolVersion!: string | null;

  /** Links the rounds of one input-required call. */
  @Column({ name: 'flow_id', type: 'uuid', nullable: true })
  flowId!: string | null;
}
