import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tool version an idempotency key was first used with: a repeat of the key for another version of the tool is
 * refused (IDEMPOTENCY_KEY_REUSED) instead of replaying the other version's result. NULL on records written before
 * this column existed (they expire within IDEMPOTENCY_TTL_SECONDS): their version is unknown and not checked.
 */
export class IdempotencyToolVersion1764200006300 implements MigrationInterface {
  name = 'IdempotencyToolVersion1764200006300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_record ADD COLUMN tool_version text NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_record DROP COLUMN tool_version`);
  }
}
