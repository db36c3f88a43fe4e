import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Session metadata shared by every replica: any replica can serve ordinary requests of any session. */
@Entity('mcp_session')
export class McpSessionEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'protocol_version', type: 'text', nullable: true })
  protocolVersion!: string | null;

  @Column({ name: 'client_info', type: 'jsonb', nullable: true })
  clientInfo!: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz', default: () => 'now()' })
  lastSeenAt!: Date;
}
