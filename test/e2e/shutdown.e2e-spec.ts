import { loadOrCreateDevKey, mintDevToken } from '../../src/auth/dev-keys.js';
import { loadConfig } from '../../src/config/app-config.js';
import { databaseKind } from '../utils/database.js';
import { ServerProcess } from '../utils/server-process.js';

const AGENT = 'drain-agent';

/**
 * Graceful shutdown of the built server under load: on SIGTERM readiness turns 503 while the listener still
 * serves, in-flight calls finish, pending audit rows are flushed, and the process exits 0. Every call that got
 * a success response has its audit row afterwards.
 */
describe(`graceful shutdown on SIGTERM (${databaseKind})`, () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.prepare(AGENT, ['echo'], {
      SHUTDOWN_DRAIN_DELAY_MS: '1500',
      SHUTDOWN_GRACE_MS: '20000',
    });
  }, 300_000);

  afterAll(() => server?.dispose());

  it('flips readiness first, finishes in-flight calls, loses no audit row and exits 0', async () => {
    const config = loadConfig(server.env);
    const key = await loadOrCreateDevKey(config.auth.devKeyDir);
    const token = (scopes: string[]) =>
      mintDevToken(config.auth, key, { agent: AGENT, scopes, ttlSeconds: 600 });
    const callerToken = await token(['tool:echo']);
    await server.start();

    const acknowledged: string[] = [];
    let next = 0;
    let stop = false;
    const call = async (requestId: string) => {
      const res = await fetch(`${server.baseUrl}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${callerToken}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-request-id': requestId,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: requestId } },
        }),
      });
      const body = (await res.json()) as { result?: { structuredContent?: { text?: string } } };
      return res.status === 200 && body.result?.structuredContent?.text === requestId;
    };
    const worker = async () => {
      while (!stop) {
        const id = `drain-${next++}`;
        if (await call(id).catch(() => false)) acknowledged.push(id);
      }
    };
    // Readiness as a probe sees it: 200, then 503 while still listening, then connection refused.
    const probes: string[] = [];
    // Probes until the listener is gone (the process may exit between two probes: then the next one is refused).
    const prober = (async () => {
      while (probes.at(-1) !== 'refused') {
        const seen = await fetch(`${server.baseUrl}/health/ready`).then(
          (r) => String(r.status),
          () => 'refused',
        );
        if (probes.at(-1) !== seen) probes.push(seen);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const load = Array.from({ length: 8 }, worker);
    while (acknowledged.length < 50) await new Promise((r) => setTimeout(r, 20));

    const before = acknowledged.length;
    const exitCode = await server.stop('SIGTERM');
    stop = true;
    await Promise.all([...load, prober]);

    expect(exitCode).toBe(0);
    expect(probes.slice(0, 3)).toEqual(['200', '503', 'refused']);
    // The drain delay kept serving: calls were acknowledged after SIGTERM.
    expect(acknowledged.length).toBeGreaterThan(before);

    await server.start();
    const res = await fetch(`${server.baseUrl}/admin/audit/export?agent=${AGENT}&kind=tool_call`, {
      headers: { authorization: `Bearer ${await token(['mcp:admin'])}` },
    });
    const rows = (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { requestId: string });
    const audited = new Set(rows.map((r) => r.requestId));
    expect(acknowledged.filter((id) => !audited.has(id))).toEqual([]);
    expect(rows.length).toBe(audited.size); // no duplicates
  }, 300_000);
});
