import type { MigrationInterface, QueryRunner } from 'typeorm';

export class McpSession1764200005000 implements MigrationInterface {
  name = 'McpSession1764200005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE mcp_session (
        id text PRIMARY KEY,
        agent_id text NOT NULL,
        protocol_version text NULL,
        client_info jsonb NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX mcp_session_last_seen_idx ON mcp_session (last_seen_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE mcp_session`);
  }
}
