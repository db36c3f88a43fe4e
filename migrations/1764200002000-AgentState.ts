import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-agent key/value state (StateModule). `key` uses the "C" collation: byte-wise order makes the unique btree
 * on (agent_id, key) serve both exact lookups and prefix listing with keyset pagination (`key >= $prefix AND
 * key LIKE $prefix || '%' AND key > $cursor ORDER BY key`), whatever the database's default collation.
 */
export class AgentState1764200002000 implements MigrationInterface {
  name = 'AgentState1764200002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agent_state (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        agent_id text NOT NULL,
        key text COLLATE "C" NOT NULL,
        value jsonb NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT agent_state_agent_key_uq UNIQUE (agent_id, key),
        CONSTRAINT agent_state_version_ck CHECK (version >= 1)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE agent_state`);
  }
}
