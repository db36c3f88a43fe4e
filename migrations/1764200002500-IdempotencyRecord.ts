import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys of `tools/call` (IdempotencyService). The row is inserted first, as a claim: the unique
 * (agent_id, tool_name, key) makes concurrent duplicates lose the insert and wait for the stored result.
 */
export class IdempotencyRecord1764200002500 implements MigrationInterface {
  name = 'IdempotencyRecord1764200002500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE idempotency_record (
        id uuid PRIMARY KEY,
        agent_id text NOT NULL,
        tool_name text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status text NOT NULL,
        result jsonb NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        CONSTRAINT idempotency_record_key_uq UNIQUE (agent_id, tool_name, key),
        CONSTRAINT idempotency_record_status_ck CHECK (status IN ('in_progress', 'completed')),
        CONSTRAINT idempotency_record_result_ck CHECK ((status = 'completed') = (result IS NOT NULL))
      )`);
    // Pruning of expired records.
    await q.query(`CREATE INDEX idempotency_record_expires_idx ON idempotency_record (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_record`);
  }
}
