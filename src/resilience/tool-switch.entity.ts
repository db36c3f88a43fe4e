import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Kill switch (migration 1764200004000-ToolSwitch): a row means "this tool is switched off", for one version or
 * (tool_version null) for every version. Enabling deletes the row; the audit trail keeps the history.
 */
@Entity('tool_switch')
export class ToolSwitchEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tool_name', type: 'text' })
  toolName!: string;

  /** null = every version of the tool. */
  @Column({ name: 'tool_version', type: 'text', nullable: true })
  toolVersion!: string | null;

  @Column({ name: 'disabled_by', type: 'text' })
  disabledBy!: string;

  @Column({ name: 'disabled_at', type: 'timestamptz', default: () => 'now()' })
  disabledAt!: Date;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;
}
