import { DataSource } from 'typeorm';
import {
  AuditQueryService,
  auditQuerySchema,
  type AuditEventView,
  type AuditQuery,
} from '../../src/audit/audit-query.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

const ROWS = 10_000;
const BASE = '2026-01-01T00:00:00Z';

/**
 * 10,000 tool-call rows in one statement. Two rows share each timestamp (g / 2 seconds), so pagination must
 * break ties by id; agents, tools and outcomes cycle with different periods.
 */
const SEED = `
  INSERT INTO audit_event (occurred_at, kind, agent_id, tool_name, tool_version, outcome, error_code, duration_ms,
                           param_bytes, params_sha256, request_id)
  SELECT timestamptz '${BASE}' + (g / 2) * interval '1 second', 'tool_call', 'agent-' || (g % 10),
         (ARRAY['echo', 'counter.increment', 'state.get', 'state.set'])[g % 4 + 1], '1.0.0',
         (ARRAY['success', 'success', 'tool_error', 'denied_grant', 'invalid_arguments'])[g % 5 + 1],
         CASE WHEN g % 5 >= 2 THEN 'SOME_CODE' END, g % 100, 20, md5(g::text) || md5(g::text), 'seed-' || g
    FROM generate_series(1, ${ROWS}) AS g`;

describe(`audit query over ${ROWS} rows (${databaseKind})`, () => {
  let app: App;
  let audit: AuditQueryService;
  let db: DataSource;

  beforeAll(async () => {
    app = await startApp();
    db = app.app.get(DataSource);
    audit = app.app.get(AuditQueryService);
    await db.query(SEED);
  });
  afterAll(() => app.close());

  /** Query-string values, parsed exactly as the admin API parses them. */
  const q = (query: Record<string, string | number | undefined>): AuditQuery => auditQuerySchema.parse(query);

  async function walk(
    query: Record<string, string | number>,
  ): Promise<{ rows: AuditEventView[]; pages: number }> {
    const rows: AuditEventView[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await audit.page(q({ ...query, cursor }));
      rows.push(...page.items);
      pages++;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return { rows, pages };
  }

  async function count(where: string, params: unknown[] = []): Promise<number> {
    const [{ n }] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_event WHERE ${where}`,
      params,
    );
    return n;
  }

  it('pages through every row exactly once, newest first, ties broken by id', async () => {
    const { rows, pages } = await walk({ kind: 'tool_call', limit: 500 });
    expect(rows).toHaveLength(ROWS);
    expect(pages).toBe(ROWS / 500);
    expect(new Set(rows.map((r) => r.id)).size).toBe(ROWS);
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1], rows[i]];
      const newer =
        a.occurredAt > b.occurredAt || (a.occurredAt === b.occurredAt && BigInt(a.id) > BigInt(b.id));
      expect(newer).toBe(true);
    }
    expect(rows[0]).toMatchObject({
      kind: 'tool_call',
      toolVersion: '1.0.0',
      paramBytes: 20,
      occurredAt: '2026-01-01T01:23:20.000000Z',
    });
  });

  it('filters by agent, tool and outcome, alone and together', async () => {
    const byAgent = await walk({ agent: 'agent-3', limit: 500 });
    expect(byAgent.rows).toHaveLength(await count(`agent_id = 'agent-3'`));
    expect(byAgent.rows.every((r) => r.agentId === 'agent-3')).toBe(true);

    const combined = await walk({ agent: 'agent-3', tool: 'state.set', outcome: 'denied_grant' });
    const expected = await count(
      `agent_id = 'agent-3' AND tool_name = 'state.set' AND outcome = 'denied_grant'`,
    );
    expect(expected).toBeGreaterThan(0);
    expect(combined.rows).toHaveLength(expected);
    expect(
      combined.rows.every(
        (r) => r.agentId === 'agent-3' && r.toolName === 'state.set' && r.outcome === 'denied_grant',
      ),
    ).toBe(true);
  });

  it('filters by time range: from inclusive, to exclusive', async () => {
    const from = '2026-01-01T00:10:00Z';
    const to = '2026-01-01T00:20:00.000+00:00';
    const { rows } = await walk({ from, to, limit: 250 });
    expect(rows).toHaveLength(await count(`occurred_at >= $1 AND occurred_at < $2`, [from, to]));
    expect(rows).toHaveLength(1200); // 600 seconds, two rows per second
    expect(rows.at(-1)!.occurredAt).toBe('2026-01-01T00:10:00.000000Z');
    expect(rows[0].occurredAt).toBe('2026-01-01T00:19:59.000000Z');
  });

  it('returns no cursor on the last page and an empty page for no match', async () => {
    expect(await audit.page(q({ agent: 'nobody' }))).toEqual({ items: [], nextCursor: null });
    const exact = await audit.page(q({ agent: 'agent-1', limit: 500 }));
    expect(exact.nextCursor).not.toBeNull();
  });

  it('refuses forged cursors', async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const page = await audit.page(q({ limit: 1 }));
    expect(auditQuerySchema.safeParse({ cursor: page.nextCursor }).success).toBe(true);
    for (const cursor of [
      'not-a-cursor',
      encode({ t: 'yesterday', id: '1' }),
      encode({ t: '2026-01-01T00:00:00.000000Z', id: '1; DROP TABLE audit_event' }),
      encode({ t: '2026-01-01T00:00:00.000000Z', id: '9999999999999999999' }),
    ]) {
      const parsed = auditQuerySchema.safeParse({ cursor });
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues[0]).toMatchObject({
        path: ['cursor'],
        message: 'not a cursor returned by this API',
      });
    }
  });

  it('exports every matching row in pages', async () => {
    let rows = 0;
    let pages = 0;
    for await (const page of audit.export({ tool: 'state.get' })) {
      expect(page.length).toBeLessThanOrEqual(1000);
      expect(page.every((r) => r.toolName === 'state.get')).toBe(true);
      rows += page.length;
      pages++;
    }
    expect(rows).toBe(await count(`tool_name = 'state.get'`));
    expect(pages).toBe(Math.ceil(rows / 1000));
  });
});
