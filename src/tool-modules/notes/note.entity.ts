import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One note of one agent (migration ./1764200008000-PackNotes.ts). */
@Entity('pack_notes')
@Index('pack_notes_agent_idx', ['agentId', 'id'])
export class NoteEntity {
  /** bigint: the driver returns it as a string. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id!: string;

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ type: 'text' })
  text!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
