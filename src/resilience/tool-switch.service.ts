import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository, type EntityManager } from 'typeorm';
import { ToolSwitchEntity } from './tool-switch.entity.js';

export interface DisabledTool {
  toolName: string;
  /** null = every version. */
  toolVersion: string | null;
  disabledBy: string;
  disabledAt: Date;
  reason: string | null;
}

/**
 * SQL boolean: is version `version` of tool `name` switched off, by itself or by a switch on every version
 * (placeholders such as `$1`)? The one definition, used by `isDisabled` and by statements that fold this check
 * into a per-call query of their own (ToolGate).
 */
export function toolSwitchedOffSql(name: string, version: string): string {
  return `EXISTS (SELECT 1 FROM tool_switch s WHERE s.tool_name = ${name} AND (s.tool_version IS NULL OR s.tool_version = ${version}))`;
}

/**
 * The runtime kill switch. State lives in PostgreSQL and is read on every call, never cached: a switch takes
 * effect on the very next call on every replica. The read is one index lookup on a table of a few rows.
 */
@Injectable()
export class ToolSwitchService {
  constructor(@InjectRepository(ToolSwitchEntity) private readonly switches: Repository<ToolSwitchEntity>) {}

  /**
   * Switches a tool (or one version) off; idempotent (a second call updates who/why). `manager`: inside the
   * caller's transaction (an admin action commits with its audit row).
   */
  async disable(
    toolName: string,
    toolVersion: string | null,
    disabledBy: string,
    reason?: string,
    manager: EntityManager = this.switches.manager,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO tool_switch (tool_name, tool_version, disabled_by, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tool_name, (COALESCE(tool_version, ''))) DO UPDATE
         SET disabled_by = EXCLUDED.disabled_by, reason = EXCLUDED.reason, disabled_at = now()`,
      [toolName, toolVersion, disabledBy, reason ?? null],
    );
  }

  /** Removes the switch of exactly this tool/version; false when there was none. */
  async enable(
    toolName: string,
    toolVersion: string | null,
    manager: EntityManager = this.switches.manager,
  ): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `DELETE FROM tool_switch WHERE tool_name = $1 AND COALESCE(tool_version, '') = COALESCE($2, '') RETURNING 1`,
      [toolName, toolVersion],
    );
    return rows.length > 0;
  }

  /** Is this version switched off (by itself or by a switch on every version)? One indexed query. */
  async isDisabled(toolName: string, toolVersion: string): Promise<boolean> {
    const rows: { disabled: boolean }[] = await this.switches.query(
      `SELECT ${toolSwitchedOffSql('$1', '$2')} AS disabled`,
      [toolName, toolVersion],
    );
    return rows[0].disabled;
  }

  /** Every switch in force (the table is tiny: a row per switched-off tool). */
  async list(): Promise<DisabledTool[]> {
    const rows = await this.switches.find({ order: { toolName: 'ASC', toolVersion: 'ASC' } });
    return rows.map(({ toolName, toolVersion, disabledBy, disabledAt, reason }) => ({
      toolName,
      toolVersion,
      disabledBy,
      disabledAt,
      reason,
    }));
  }

  /** Filters out the tools switched off now (one query for all of them). */
  async filterEnabled<T extends { name: string; version: string }>(tools: T[]): Promise<T[]> {
    if (tools.length === 0) return tools;
    const off = await this.list();
    if (off.length === 0) return tools;
    return tools.filter(
      (t) =>
        !off.some((s) => s.toolName === t.name && (s.toolVersion === null || s.toolVersion === t.version)),
    );
  }
}
