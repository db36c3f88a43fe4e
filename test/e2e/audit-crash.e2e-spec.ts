import { loadOrCreateDevKey, mintDevToken } from '../../src/auth/dev-keys.js';
import { loadConfig } from '../../src/config/app-config.js';
import { databaseKind } from '../utils/database.js';
import { ServerProcess } from '../utils/server-process.js';

const AGENT = 'crash-agent';
const WORKERS = 16;
/** Kill once this many calls were acknowledged (or after KILL_AFTER_MS, whichever comes first). */
const KILL_AT_SUCCESSES = 150;
const KILL_AFTER_MS = 8000;

/**
 * Durability under a crash: the built server (`node dist/src/main.js`) serves concurrent tools/call load and is
 * killed with SIGKILL mid-load. After a restart on the same data, every call that got a success response has
 * exactly one audit row (matched by its request id), and no call has two.
 */
describe(`audit trail survives SIGKILL under load (${databaseKind})`, () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.prepare(AGENT, ['echo']);
  }, 300_000);

  afterAll(() => server?.dispose());

  const start = () => server.start();
  const kill = () => server.stop('SIGKILL');

  it('has an audit row for every acknowledged call after a SIGKILL, and none twice', async () => {
    const config = loadConfig(server.env);
    const key = await loadOrCreateDevKey(config.auth.devKeyDir);
    const token = (scopes: string[]) =>
      mintDevToken(config.auth, key, { agent: AGENT, scopes, ttlSeconds: 600 });
    const callerToken = await token(['tool:echo']);

    await start();
    const acknowledged: string[] = [];
    let failed = 0;
    let next = 0;
    let stop = false;
    const call = async (requestId: string): Promise<boolean> => {
      const res = await fetch(`${server.baseUrl}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${callerToken}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          'x-request-id': requestId,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: requestId } },
        }),
      });
      if (res.status !== 200) return false;
      const body = (await res.json()) as {
        result?: { isError?: boolean; structuredContent?: { text?: string } };
      };
      return body.result?.isError !== true && body.result?.structuredContent?.text === requestId;
    };
    const worker = async () => {
      while (!stop) {
        const requestId = `crash-${next++}`;
        const ok = await call(requestId).catch(() => false);
        if (ok) acknowledged.push(requestId);
        else failed++;
      }
    };
    const load = Array.from({ length: WORKERS }, worker);
    const started = Date.now();
    while (acknowledged.length < KILL_AT_SUCCESSES && Date.now() - started < KILL_AFTER_MS) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Group commit under this load, as the server itself reports it.
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
    await kill(); // mid-load: requests are in flight
    stop = true;
    await Promise.all(load);
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);
    expect(failed).toBeGreaterThan(0); // the in-flight calls the kill cut off

    await start();
    const adminToken = await token(['mcp:admin']);
    const res = await fetch(`${server.baseUrl}/admin/audit/export?agent=${AGENT}&kind=tool_call`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const rows = (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { requestId: string; outcome: string; toolName: string });
    const perRequest = new Map<string, number>();
    for (const row of rows) perRequest.set(row.requestId, (perRequest.get(row.requestId) ?? 0) + 1);

    const missing = acknowledged.filter((id) => !perRequest.has(id));
    const duplicated = [...perRequest].filter(([, n]) => n > 1).map(([id]) => id);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    const byId = new Map(rows.map((r) => [r.requestId, r]));
    expect(
      acknowledged.every((id) => byId.get(id)?.outcome === 'success' && byId.get(id)?.toolName === 'echo'),
    ).toBe(true);

    const sum = Number(/^mcp_audit_flush_rows_sum (\S+)$/m.exec(metrics)?.[1]);
    const count = Number(/^mcp_audit_flush_rows_count (\S+)$/m.exec(metrics)?.[1]);
    expect(count).toBeGreaterThan(0);
    console.info(
      `crash test (${databaseKind}): ${acknowledged.length} acknowledged, ${failed} cut off, ${rows.length} rows ` +
        `after restart, 0 missing; audit flushes before the kill: ${count}, mean batch ${(sum / count).toFixed(2)} rows`,
    );
    await kill();
  }, 300_000);
});
