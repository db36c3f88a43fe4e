import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PermissionGrant1764200000000 implements MigrationInterface {
  name = 'PermissionGrant1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE permission_grant (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        agent_id text NOT NULL,
        tool_name text NOT NULL,
        tool_version text NULL,
        granted_by text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NULL,
        revoked_at timestamptz NULL,
        revoked_by text NULL
      )`);
    // The hot path (every call): active grants of one agent for one tool.
    await q.query(
      `CREATE INDEX permission_grant_active_idx ON permission_grant (agent_id, tool_name) WHERE revoked_at IS NULL`,
    );
    await q.query(`CREATE INDEX permission_grant_tool_idx ON permission_grant (tool_name)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE permission_grant`);
  }
}
