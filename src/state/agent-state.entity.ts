import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

/**
 * One key of one agent's state (migration 1764200002000-AgentState). `version` starts at 1 and grows by one on
 * every write; writers compare-and-set on it (StateService), never through `save()`.
 */
@Entity('agent_state')
@Unique('agent_state_agent_key_uq', ['agentId', 'key'])
export class AgentStateEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ type: 'text', collation: 'C' })
  key!: string;

  /** Any JSON value, including `null`. */
  @Column({ type: 'jsonb' })
  value!: unknown;

  @VersionColumn({ type: 'integer' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
