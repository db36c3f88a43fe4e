import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue #16: the protocol revision a call came in on (`2026-07-28`, `2025-11-25`, …) and the flow id that links
 * the rounds of one input-required call (each round is audited as a call of its own). NULL on older rows and on
 * rows that are not tool, resource or prompt calls. Flows are looked up by id, hence a partial index.
 */
export class AuditProtocolFlow1764200007000 implements MigrationInterface {
  name = 'AuditProtocolFlow1764200007000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE audit_event ADD COLUMN protocol_version varchar(32) NULL, ADD COLUMN flow_id uuid NULL`,
    );
    await q.query(
      `CREATE INDEX audit_event_flow_time_idx ON audit_event (flow_id, occurred_at DESC, id DESC)
        WHERE flow_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_event_flow_time_idx`);
    await q.query(`ALTER TABLE audit_event DROP COLUMN flow_id, DROP COLUMN protocol_version`);
  }
}
