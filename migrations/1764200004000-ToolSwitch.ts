import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The runtime kill switch: a row per switched-off tool (tool_version null = every version). */
export class ToolSwitch1764200004000 implements MigrationInterface {
  name = 'ToolSwitch1764200004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tool_switch (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tool_name text NOT NULL,
        tool_version text NULL,
        disabled_by text NOT NULL,
        disabled_at timestamptz NOT NULL DEFAULT now(),
        reason text NULL
      )`);
    // One switch per (tool, version or "all"); also the index of the per-call lookup by tool_name.
    await q.query(
      `CREATE UNIQUE INDEX tool_switch_tool_version_key ON tool_switch (tool_name, (COALESCE(tool_version, '')))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tool_switch`);
  }
}
