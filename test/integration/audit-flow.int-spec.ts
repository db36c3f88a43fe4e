import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditProtocolFlow1764200007000 } from '../../migrations/1764200007000-AuditProtocolFlow.js';
import {
  AuditQueryService,
  auditFilterSchema,
  auditQuerySchema,
} from '../../src/audit/audit-query.service.js';
import type { AuditEventInput } from '../../src/audit/audit-recorder.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

/** Issue #16: each round of an input-required call is audited with its protocol version and its flow id. */
describe(`audit protocol version and flow id (${databaseKind})`, () => {
  let app: App;
  let audit: AuditService;
  let query: AuditQueryService;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp();
    audit = app.app.get(AuditService);
    query = app.app.get(AuditQueryService);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  const round = (flowId: string, outcome: string, requestId: string): AuditEventInput => ({
    kind: 'tool_call',
    agentId: 'flow-agent',
    toolName: 'conformance.elicit',
    toolVersion: '1.0.0',
    outcome,
    requestId,
    protocolVersion: '2026-07-28',
    flowId,
  });

  it('adds nullable protocol_version varchar(32) and flow_id uuid columns, and an index on flows', async () => {
    const columns = await db.query<
      { column_name: string; data_type: string; len: number | null; nullable: string }[]
    >(
      `SELECT column_name, data_type, character_maximum_length AS len, is_nullable AS nullable
         FROM information_schema.columns
        WHERE table_name = 'audit_event' AND column_name IN ('protocol_version', 'flow_id')
        ORDER BY column_name`,
    );
    expect(columns).toEqual([
      { column_name: 'flow_id', data_type: 'uuid', len: null, nullable: 'YES' },
      { column_name: 'protocol_version', data_type: 'character varying', len: 32, nullable: 'YES' },
    ]);
    const indexes = await db.query<{ indexname: string }[]>(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'audit_event' AND indexname = 'audit_event_flow_time_idx'`,
    );
    expect(indexes).toHaveLength(1);
  });

  it('records both fields on every write path, and the admin query finds the rounds of one flow', async () => {
    const flow = randomUUID();
    const other = randomUUID();
    await Promise.all([
      audit.record({ ...round(flow, 'input_required', 'r1'), occurredAt: new Date(Date.now() - 2000) }),
      audit.record(round(other, 'input_required', 'x1')),
    ]);
    await db.transaction((manager) =>
      audit.recordInTransaction(manager, {
        ...round(flow, 'input_required', 'r2'),
        occurredAt: new Date(Date.now() - 1000),
      }),
    );
    // The INSERT … SELECT path (state writes audited in the same statement).
    const perRow = audit.insertPerRow('source', [round(flow, 'success', 'r3')], 1)!;
    await db.query(
      `WITH source AS (SELECT 1::bigint AS n), audited AS (${perRow.sql}) SELECT 1`,
      perRow.values,
    );

    const page = await query.page(auditQuerySchema.parse({ flowId: flow }));
    expect(page.items.map((e) => [e.requestId, e.outcome, e.protocolVersion, e.flowId])).toEqual([
      ['r3', 'success', '2026-07-28', flow],
      ['r2', 'input_required', '2026-07-28', flow],
      ['r1', 'input_required', '2026-07-28', flow],
    ]);
    const exported = [];
    for await (const rows of query.export(auditFilterSchema.parse({ flowId: other }))) exported.push(...rows);
    expect(exported).toEqual([
      expect.objectContaining({ requestId: 'x1', flowId: other, protocolVersion: '2026-07-28' }),
    ]);
  });

  it('answers null for rows without them, and keeps only what the columns can hold (never failing the row)', async () => {
    await Promise.all([
      audit.record({ kind: 'admin', agentId: 'flow-bounds', outcome: 'grant.create', requestId: 'b0' }),
      audit.record({
        kind: 'tool_call',
        agentId: 'flow-bounds',
        outcome: 'success',
        requestId: 'b1',
        protocolVersion: `2026-07-28-${'x'.repeat(100)}`,
        flowId: 'not-a-uuid',
      }),
    ]);
    const { items } = await query.page(auditQuerySchema.parse({ agent: 'flow-bounds' }));
    const byRequest = Object.fromEntries(items.map((e) => [e.requestId, e]));
    expect(byRequest.b0).toMatchObject({ protocolVersion: null, flowId: null });
    expect(byRequest.b1.flowId).toBeNull();
    expect(byRequest.b1.protocolVersion).toHaveLength(32);
    expect(byRequest.b1.protocolVersion).toMatch(/^2026-07-28-x+…$/);
  });

  it('refuses a flowId filter that is not a UUID before it reaches the database', () => {
    expect(auditQuerySchema.safeParse({ flowId: "1' OR '1'='1" }).error?.issues[0]).toMatchObject({
      path: ['flowId'],
      message: 'must be a flow id (a UUID)',
    });
  });

  it('migrates down and up again', async () => {
    const runner = db.createQueryRunner();
    const migration = new AuditProtocolFlow1764200007000();
    try {
      await migration.down(runner);
      const count = () =>
        db.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM information_schema.columns
            WHERE table_name = 'audit_event' AND column_name IN ('protocol_version', 'flow_id')`,
        );
      expect(await count()).toEqual([{ n: 0 }]);
      await migration.up(runner);
      expect(await count()).toEqual([{ n: 2 }]);
    } finally {
      await runner.release();
    }
  });
});
