import { createHash } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { DataSource } from 'typeorm';
import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';

type App = Awaited<ReturnType<typeof startApp>>;
interface Page {
  items: AuditEventView[];
  nextCursor: string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe(`audit trail through MCP and the admin API (${databaseKind})`, () => {
  let app: App;
  let admin: Record<string, string>;
  let db: DataSource;

  beforeAll(async () => {
    app = await startApp();
    admin = await app.bearer('auditor', ['mcp:admin']);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  const adminGet = (path: string, headers: Record<string, string> = admin) =>
    fetch(`${app.baseUrl}${path}`, { headers });

  /** The tool_call / denied rows of one request id, via the admin API. */
  async function rowsOf(requestId: string): Promise<AuditEventView[]> {
    const res = await adminGet(`/admin/audit?limit=500`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    return page.items.filter((r) => r.requestId === requestId && r.kind !== 'admin');
  }

  async function clientFor(agent: string, scopes: string[], requestId: string) {
    return connectClient(app.mcpUrl, { ...(await app.bearer(agent, scopes)), 'x-request-id': requestId });
  }

  it('records a successful call with sizes and a digest of the arguments, not the arguments', async () => {
    await app.grant('alice', 'echo');
    const client = await clientFor('alice', ['tool:echo'], 'e2e-success');
    const result = await client.callTool({ name: 'echo', arguments: { text: 'top-secret-text' } });
    expect(result.isError).toBeFalsy();
    await client.close();

    const rows = await rowsOf('e2e-success');
    expect(rows).toHaveLength(1);
    const args = JSON.stringify({ text: 'top-secret-text' });
    expect(rows[0]).toMatchObject({
      kind: 'tool_call',
      agentId: 'alice',
      toolName: 'echo',
      toolVersion: '1.0.0',
      outcome: 'success',
      errorCode: null,
      paramBytes: Buffer.byteLength(args),
      paramsSha256: sha256(args),
      detail: null,
    });
    expect(rows[0].resultBytes).toBeGreaterThan(0);
    expect(rows[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(rows[0].remoteAddr).toBe('127.0.0.1');
    expect(rows[0].userAgent).toEqual(expect.any(String));
    expect(JSON.stringify(rows[0])).not.toContain('top-secret-text');
  });

  it('records invalid arguments, an unknown tool and a missing grant with their outcomes', async () => {
    await app.grant('bob', 'echo');
    const invalid = await clientFor('bob', ['tool:echo'], 'e2e-invalid');
    const bad = await invalid.callTool({ name: 'echo', arguments: { text: 42 } });
    expect(toolError(bad).code).toBe('INVALID_ARGUMENTS');
    await invalid.close();

    // The scope for a tool that does not exist lets the call reach the pipeline, which resolves nothing.
    const unknown = await clientFor('bob', ['tool:no.such-tool'], 'e2e-unknown');
    await expect(unknown.callTool({ name: 'no.such-tool', arguments: {} })).rejects.toBeInstanceOf(McpError);
    await unknown.close();

    const ungranted = await clientFor('carol', ['tool:echo'], 'e2e-no-grant');
    await expect(ungranted.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toMatchObject({
      data: { code: 'GRANT_DENIED' },
    });
    await ungranted.close();

    expect(await rowsOf('e2e-invalid')).toEqual([
      expect.objectContaining({
        kind: 'tool_call',
        outcome: 'invalid_arguments',
        errorCode: 'INVALID_ARGUMENTS',
      }),
    ]);
    expect(await rowsOf('e2e-unknown')).toEqual([
      expect.objectContaining({
        kind: 'tool_call',
        toolName: 'no.such-tool',
        toolVersion: null,
        outcome: 'unknown_tool',
        errorCode: 'UNKNOWN_TOOL',
      }),
    ]);
    expect(await rowsOf('e2e-no-grant')).toEqual([
      expect.objectContaining({ agentId: 'carol', outcome: 'denied_grant', errorCode: 'GRANT_DENIED' }),
    ]);
  });

  it('records a scope denial (refused by the HTTP guard before the pipeline)', async () => {
    const res = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: {
        ...(await app.bearer('dave', ['tool:other'])),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-request-id': 'e2e-scope',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' } },
      }),
    });
    expect(res.status).toBe(403);
    expect(await rowsOf('e2e-scope')).toEqual([
      expect.objectContaining({ kind: 'denied', agentId: 'dave', toolName: 'echo', outcome: 'denied_scope' }),
    ]);
  });

  it('writes concurrent calls with fewer INSERT statements than calls (group commit)', async () => {
    await app.grant('erin', 'echo');
    const client = await clientFor('erin', ['tool:echo'], 'e2e-group');
    const audit = app.app.get(AuditService);
    // A database that takes 50 ms per INSERT: the rows of calls arriving meanwhile must share the next statement.
    // (Without it the outcome depends on timing: on a fast machine each call's flush can end before the next call.)
    const slowed = audit as unknown as { insert(rows: unknown[]): Promise<void> };
    const insert = slowed.insert.bind(audit);
    slowed.insert = async (rows) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return insert(rows);
    };
    const before = { ...audit.stats };
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => client.callTool({ name: 'echo', arguments: { text: `g${i}` } })),
    ).finally(() => delete (slowed as { insert?: unknown }).insert);
    await client.close();
    expect(results.every((r) => !r.isError)).toBe(true);
    expect(audit.stats.rows - before.rows).toBe(n);
    expect(audit.stats.flushes - before.flushes).toBeLessThan(n);
    expect((await rowsOf('e2e-group')).length).toBe(n);
  });

  it('fails the call closed (AUDIT_UNAVAILABLE) while the audit table cannot be written', async () => {
    await app.grant('frank', 'echo');
    const client = await clientFor('frank', ['tool:echo'], 'e2e-closed');
    await db.query(`ALTER TABLE audit_event RENAME TO audit_event_offline`);
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(result.isError).toBe(true);
      expect(toolError(result).code).toBe('AUDIT_UNAVAILABLE');
      expect(result._meta).toMatchObject({ 'mcp-production/error-code': 'AUDIT_UNAVAILABLE' });
      const list = await adminGet('/admin/audit');
      expect(list.status).toBe(503);
      expect(await list.json()).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    } finally {
      await db.query(`ALTER TABLE audit_event_offline RENAME TO audit_event`);
    }
    const result = await client.callTool({ name: 'echo', arguments: { text: 'y' } });
    expect(result.isError).toBeFalsy();
    await client.close();
  });

  describe('admin API', () => {
    const ROWS = 10_000;
    beforeAll(async () => {
      await db.query(`
        INSERT INTO audit_event (occurred_at, kind, agent_id, tool_name, outcome, request_id)
        SELECT timestamptz '2025-06-01T00:00:00Z' + g * interval '1 second', 'tool_call', 'bulk-' || (g % 4),
               CASE WHEN g % 2 = 0 THEN 'echo' ELSE 'state.get' END,
               CASE WHEN g % 3 = 0 THEN 'tool_error' ELSE 'success' END, 'bulk-' || g
          FROM generate_series(1, ${ROWS}) AS g`);
    });

    it('needs a token with mcp:admin', async () => {
      expect((await adminGet('/admin/audit', {})).status).toBe(401);
      expect((await adminGet('/admin/audit', await app.bearer('alice', ['tool:echo']))).status).toBe(403);
      expect((await adminGet('/admin/audit/export', await app.bearer('alice', ['tool:echo']))).status).toBe(
        403,
      );
    });

    it.each([
      ['limit=501', 'limit'],
      ['limit=0', 'limit'],
      ['limit=ten', 'limit'],
      ['from=yesterday', 'from'],
      ['from=2025-06-01T00:00:00', 'from'],
      ['from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z', 'from'],
      ['kind=nonsense', 'kind'],
      ['cursor=garbage', 'cursor'],
      ['colour=blue', 'colour'],
    ])('answers 400 with a clear message for %s', async (query, param) => {
      const res = await adminGet(`/admin/audit?${query}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe('INVALID_REQUEST');
      expect(body.message).toContain(param);
    });

    it(`pages newest first through ${ROWS} rows with an opaque cursor`, async () => {
      const seen: AuditEventView[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query = new URLSearchParams({ tool: 'echo', limit: '500', ...(cursor && { cursor }) });
        const res = await adminGet(`/admin/audit?${query.toString()}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as Page;
        seen.push(...page.items);
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      const [{ n }] = await db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_event WHERE tool_name = 'echo'`,
      );
      expect(n).toBeGreaterThan(ROWS / 2); // the bulk rows on echo, plus the calls made above
      expect(seen).toHaveLength(n);
      expect(pages).toBe(Math.ceil(seen.length / 500));
      expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
      expect(seen.every((r) => r.toolName === 'echo')).toBe(true);
      const times = seen.map((r) => r.occurredAt);
      expect([...times].sort().reverse()).toEqual(times);
    });

    it('combines filters with a time range', async () => {
      const query =
        'agent=bulk-2&outcome=tool_error&from=2025-06-01T01:00:00Z&to=2025-06-01T02:00:00%2B00:00';
      const res = await adminGet(`/admin/audit?${query}&limit=500`);
      const page = (await res.json()) as Page;
      // g in (3600, 7200], g % 4 = 2 and g % 3 = 0, i.e. g % 12 = 6.
      const expected = Array.from({ length: 3600 }, (_, i) => 3600 + i).filter((g) => g % 12 === 6).length;
      expect(page.items).toHaveLength(expected);
      expect(page.nextCursor).toBeNull();
      expect(page.items.every((r) => r.agentId === 'bulk-2' && r.outcome === 'tool_error')).toBe(true);
    });

    it('exports the matching rows as a streamed JSON Lines body', async () => {
      const res = await adminGet('/admin/audit/export?agent=bulk-1');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(res.headers.get('content-length')).toBeNull(); // streamed (chunked), not buffered
      const lines = (await res.text()).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(ROWS / 4);
      const rows = lines.map((line) => JSON.parse(line) as AuditEventView);
      expect(rows.every((r) => r.agentId === 'bulk-1')).toBe(true);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    });

    it('audits its own use: each query and export leaves an admin row', async () => {
      // Read the whole body: an unread streamed export keeps its connection busy, and closing the app waits for it.
      const exported = await adminGet('/admin/audit/export?tool=echo&outcome=success');
      expect(exported.status).toBe(200);
      expect((await exported.text()).length).toBeGreaterThan(0);
      const res = await adminGet('/admin/audit?kind=admin&agent=auditor&limit=5');
      const page = (await res.json()) as Page;
      expect(page.items[0]).toMatchObject({
        kind: 'admin',
        outcome: 'audit.query',
        detail: { filter: { kind: 'admin' } },
      });
      expect(page.items[1]).toMatchObject({
        kind: 'admin',
        outcome: 'audit.export',
        detail: { filter: { tool: 'echo', outcome: 'success' } },
      });
    });
  });
});
