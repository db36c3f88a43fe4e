/**
 * counter.increment throughput through the whole service (JWT auth, grant check, rate limits, audit, state with
 * compare-and-set) on PostgreSQL, at 16 and 64 concurrent clients. Not a test: a figure to track.
 *
 *   npm run build && node dist/bench/counter.bench.js
 *
 * Scenarios, per client count:
 *   spread  each connection increments its own counter (no contention: the cost of a state write)
 *   hot     every connection increments the same counter (worst case: one row, every write contends)
 * Every response is checked to be a success, and the stored counters must add up to the acknowledged calls.
 *
 * Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), BENCH_CLIENTS (16,64),
 * BENCH_REQUESTS (requests per run, default 4000), BENCH_PORT (3411).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const CLIENTS = (process.env.BENCH_CLIENTS ?? '16,64').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4000);
const PORT = Number(process.env.BENCH_PORT ?? 3411);
const AGENT = 'bench-counter';
const TOOL = 'counter.increment';

interface Row {
  scenario: 'spread' | 'hot';
  clients: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function body(name: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: TOOL, arguments: { name } },
  });
}

/** A JSON-RPC result that is not a tool error. */
function isSuccess(text: string): boolean {
  try {
    const message = JSON.parse(text) as { result?: { isError?: boolean } };
    return message.result !== undefined && message.result.isError !== true;
  } catch {
    return false;
  }
}

async function run(scenario: Row['scenario'], clients: number, token: string): Promise<Row> {
  let run = 0;
  const result: Result = await autocannon({
    url: `http://127.0.0.1:${PORT}/mcp`,
    method: 'POST',
    connections: clients,
    amount: REQUESTS,
    timeout: 30,
    headers: {
      host: `localhost:${PORT}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    verifyBody: isSuccess,
    requests: [
      {
        setupRequest: (req: { body?: string }, context: { name?: string }) => {
          context.name ??= scenario === 'hot' ? `hot-${clients}` : `spread-${clients}-${run++}`;
          req.body = body(context.name);
          return req;
        },
      },
    ],
    initialContext: {},
  } as autocannon.Options);
  return {
    scenario,
    clients,
    requests: result.requests.total,
    rps: Math.round(result.requests.total / (result.duration || 1)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0),
  };
}

async function withDb<T>(url: string, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

async function waitReady(child: ChildProcess): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error('service did not become ready');
}

async function main(): Promise<void> {
  const dbName = `mcp_bench_counter_${Date.now()}`;
  await withDb(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${dbName}`));
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'mcp-bench-counter-'));
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    PORT: String(PORT),
    PUBLIC_URL: `http://localhost:${PORT}`,
    DATA_DIR: dataDir,
    DATABASE_URL: dbUrl.toString(),
    MIGRATIONS_RUN: 'true',
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: '20',
    RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
    // One agent drives many connections.
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
  };
  let service: ChildProcess | undefined;
  try {
    execFileSync('node', ['dist/src/database/cli.js', 'run'], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    execFileSync('node', ['dist/src/permissions/grant.cli.js', '--agent', AGENT, '--tool', TOOL], {
      env,
      stdio: 'ignore',
    });
    const minted = execFileSync(
      'node',
      ['dist/src/auth/mint-token.cli.js', '--agent', AGENT, '--scope', `tool:${TOOL}`, '--ttl', '2h'],
      { env, encoding: 'utf8' },
    );
    const token = minted.split(/\s+/).find((w) => /^ey[\w-]+\.[\w-]+\.[\w-]+$/.test(w));
    if (!token) throw new Error('mint-token printed no token');

    service = spawn('node', ['dist/src/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    await waitReady(service);
    await run('spread', 16, token); // warm-up (JIT, pools), then start from empty counters
    await withDb(dbUrl.toString(), (c) => c.query(`DELETE FROM agent_state WHERE agent_id = $1`, [AGENT]));

    const rows: Row[] = [];
    for (const clients of CLIENTS) {
      for (const scenario of ['spread', 'hot'] as const) rows.push(await run(scenario, clients, token));
    }

    const acknowledged = rows.reduce((sum, r) => sum + r.requests - r.errors, 0);
    const stored = await withDb(dbUrl.toString(), async (c) => {
      const { rows: totals } = await c.query<{ total: string | null }>(
        `SELECT sum((value #>> '{}')::bigint) AS total FROM agent_state WHERE agent_id = $1`,
        [AGENT],
      );
      return Number(totals[0].total ?? 0);
    });
    console.log('| scenario | clients | requests | req/s | p50 ms | p99 ms | errors |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows)
      console.log(
        `| ${r.scenario} | ${r.clients} | ${r.requests} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`,
      );
    console.log(`\nCounter check: ${acknowledged} acknowledged increments, ${stored} stored.`);
    if (stored !== acknowledged || rows.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    service?.kill('SIGTERM');
    await sleep(500);
    await withDb(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
