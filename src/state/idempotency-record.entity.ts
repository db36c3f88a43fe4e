import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';
import type { CallToolResult } from '@modelcontextprotocol/server';

/** A claimed (`in_progress`) or finished (`completed`, with its result) idempotent tool call. */
@Entity('idempotency_record')
@Unique('idempotency_record_key_uq', ['agentId', 'toolName', 'key'])
export class IdempotencyRecordEntity {
  /** Claim token: a new one each time the record is (re)claimed, so only the claimant can finish it. */
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'tool_name', type: 'text' })
  toolName!: string;

  /** The version of the tool the key was first used with (NULL: recorded before versions were kept). */
  @Column({ name: 'tool_version', type: 'text', nullable: true })
  toolVersion!: string | null;

  @Column({ type: 'text' })
  key!: string;

  /** SHA-256 (hex) of the canonical JSON of the validated arguments. */
  @Column({ name: 'request_hash', type: 'text' })
  requestHash!: string;

  @Column({ type: 'text' })
  status!: 'in_progress' | 'completed';

  @Column({ type: 'jsonb', nullable: true })
  result!: CallToolResult | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
