import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** "Agent may call tool (optionally: only this version) until expiry, unless revoked." Rows are never deleted. */
@Entity('permission_grant')
export class PermissionGrantEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'tool_name', type: 'text' })
  toolName!: string;

  /** null = any version. */
  @Column({ name: 'tool_version', type: 'text', nullable: true })
  toolVersion!: string | null;

  @Column({ name: 'granted_by', type: 'text' })
  grantedBy!: string;

  @Column({ name: 'granted_at', type: 'timestamptz', default: () => 'now()' })
  grantedAt!: Date;

  /** null = never expires. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_by', type: 'text', nullable: true })
  revokedBy!: string | null;
}
