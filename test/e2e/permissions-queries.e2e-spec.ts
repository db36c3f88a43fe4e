import type pg from 'pg';
import { DataSource } from 'typeorm';
import { ToolSwitchService } from '../../src/resilience/tool-switch.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
const callEcho = (app: TestApp, headers: Record<string, string>) =>
  fetch(`${app.baseUrl}/mcp`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hi' } },
    }),
  });

/**
 * The database work of one `tools/call`, pinned: every guarantee is a read on every call (revocation, kill switch,
 * grant) plus the audit row before the answer, and the three reads share one statement.
 */
describe(`database round trips per tools/call (${databaseKind})`, () => {
  let app: TestApp;
  let queries: string[];
  let restore: () => void;

  beforeAll(async () => {
    app = await startApp();
    // Every statement, whoever sends it (TypeORM or HotSql), goes through a pooled pg Client's query().
    const pool = (app.app.get(DataSource).driver as unknown as { master: { Client: typeof pg.Client } })
      .master;
    const proto = pool.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    queries = [];
    proto.query = function (this: unknown, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      queries.push((typeof config === 'string' ? config : config.text).replace(/\s+/g, ' ').trim());
      return original.apply(this, args);
    };
    restore = () => (proto.query = original);
  });
  afterAll(async () => {
    restore();
    await app.close();
  });

  async function queriesOf(
    request: () => Promise<Response>,
  ): Promise<{ status: number; body: string; queries: string[] }> {
    queries.length = 0;
    const res = await request();
    const body = await res.text();
    return { status: res.status, body, queries: [...queries] };
  }

  it('reads revocation, switch and grant in one statement, then writes the audit row: two queries', async () => {
    await app.grant('rt-agent', 'echo');
    const headers = await app.bearer('rt-agent', ['tool:echo']);
    // The first call verifies the signature; the second is served by the verification cache. Same queries.
    for (let i = 0; i < 2; i++) {
      const { status, queries: issued } = await queriesOf(() => callEcho(app, headers));
      expect(status).toBe(200);
      expect(issued).toHaveLength(2);
      expect(issued[0]).toMatch(
        /FROM revoked_token r WHERE r\.jti = k\.jti\) AS revoked, .*FROM tool_switch .* AS disabled, EXISTS \(SELECT 1 FROM permission_grant .* AS granted, EXISTS \(SELECT 1 FROM permission_grant .* AS "grantedName" FROM unnest/,
      );
      expect(issued[1]).toMatch(/^INSERT INTO audit_event/);
    }
  });

  it('still makes every check on a denied call: a switched-off tool and a missing grant cost the same two', async () => {
    const noGrant = await app.bearer('rt-nogrant', ['tool:echo']);
    const denied = await queriesOf(() => callEcho(app, noGrant));
    expect(denied.status).toBe(200); // the denial is a JSON-RPC error in a 200 answer
    expect(denied.body).toContain('GRANT_DENIED');
    expect(denied.queries).toHaveLength(2);
    expect(denied.queries[1]).toMatch(/^INSERT INTO audit_event/);

    const switches = app.app.get(ToolSwitchService);
    await switches.disable('echo', null, 'test', 'round-trip test');
    try {
      const headers = await app.bearer('rt-agent', ['tool:echo']);
      const off = await queriesOf(() => callEcho(app, headers));
      expect(off.body).toContain('TOOL_DISABLED');
      expect(off.queries).toHaveLength(2);
      expect(off.queries[1]).toMatch(/^INSERT INTO audit_event/);
    } finally {
      await switches.enable('echo', null);
    }
  });
});
