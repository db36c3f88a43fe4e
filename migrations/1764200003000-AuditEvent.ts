import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only audit trail (ARCHITECTURE §2). A bigint identity id makes keyset pagination cheap; every admin
 * query orders by (occurred_at, id) newest first, so each filter gets a composite index in that order. Rows are
 * never updated (a trigger refuses it); deletion is left to an explicit retention job.
 */
export class AuditEvent1764200003000 implements MigrationInterface {
  name = 'AuditEvent1764200003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_event (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        occurred_at   timestamptz NOT NULL DEFAULT now(),
        kind          text NOT NULL CHECK (kind IN ('tool_call', 'denied', 'admin', 'state_change')),
        agent_id      text,
        client_id     text,
        request_id    text,
        session_id    text,
        tool_name     text,
        tool_version  text,
        outcome       text NOT NULL,
        error_code    text,
        duration_ms   double precision,
        param_bytes   integer,
        result_bytes  integer,
        params_sha256 text,
        remote_addr   text,
        user_agent    text,
        detail        jsonb
      )`);
    await queryRunner.query(`CREATE INDEX audit_event_time_idx ON audit_event (occurred_at DESC, id DESC)`);
    await queryRunner.query(
      `CREATE INDEX audit_event_agent_time_idx ON audit_event (agent_id, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_event_tool_time_idx ON audit_event (tool_name, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_event_outcome_time_idx ON audit_event (outcome, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(`
      CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_event is append-only: rows cannot be updated';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
      FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_event`);
    await queryRunner.query(`DROP FUNCTION audit_event_append_only()`);
  }
}
