import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** "The access token with this `jti` is no longer accepted." Checked on every authenticated request. */
@Entity('revoked_token')
@Index('revoked_token_expires_at_idx', ['expiresAt'])
export class RevokedTokenEntity {
  @PrimaryColumn({ type: 'text' })
  jti!: string;

  @Column({ name: 'revoked_at', type: 'timestamptz', default: () => 'now()' })
  revokedAt!: Date;

  /** When the token expires anyway; the row may be pruned after that. null = unknown (keep). */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;
}
