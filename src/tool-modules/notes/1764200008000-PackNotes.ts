import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The notes pack's table. A pack's migrations touch only its own tables (prefixed `pack_`), so where their
 * timestamps fall among the core ones does not matter. Rows are one agent's: every query filters on agent_id.
 */
export class PackNotes1764200008000 implements MigrationInterface {
  name = 'PackNotes1764200008000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pack_notes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        agent_id text NOT NULL,
        text text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX pack_notes_agent_idx ON pack_notes (agent_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE pack_notes`);
  }
}
