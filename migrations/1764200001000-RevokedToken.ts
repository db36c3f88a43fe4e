import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The token revocation list (by `jti`). Plain SQL that PostgreSQL 15 and PGlite both run. */
export class RevokedToken1764200001000 implements MigrationInterface {
  name = 'RevokedToken1764200001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE revoked_token (
        jti text PRIMARY KEY,
        revoked_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NULL,
        reason text NULL
      )`);
    // For pruning rows whose token has expired anyway.
    await q.query(`CREATE INDEX revoked_token_expires_at_idx ON revoked_token (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE revoked_token`);
  }
}
