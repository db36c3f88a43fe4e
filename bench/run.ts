/**
 * `npm run bench`: the full production path against the bare SDK prototype, in one run, alternating A B A B.
 *
 *   A  prototype  bench/baseline-server.ts (Express, new SDK server + transport per request, `echo`)
 *   B  service    this service on PostgreSQL: JWT auth, grant check, rate limits, durable audit all on
 *
 * Load: autocannon with a fixed number of connections (1, 16, 64) and a fixed number of requests per run, so
 * that every request is accounted for. Every response is checked to be a real success (no JSON-RPC error, no
 * tool error). Reports requests/s, p50/p99 latency, server CPU per call, peak RSS, ratios to the prototype
 * measured in the same run; writes bench/results/latest.{json,md}.
 *
 * Needs PostgreSQL (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres). The service's
 * pool size is BENCH_DB_POOL_SIZE (default 10, the service's own DB_POOL_SIZE default; on this 2-core machine 10
 * connections did as well as 20 or better: the database shares the cores, and a call holds a connection only for
 * two short reads and its share of a group-committed INSERT).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const LEVELS = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 2);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const DB_POOL_SIZE = process.env.BENCH_DB_POOL_SIZE ?? '10';
const AGENT = 'bench-agent';
const TOOLS = ['echo', 'counter.increment'];

interface Target {
  name: string;
  url: string;
  process: ChildProcess;
  headers: Record<string, string>;
}

interface Row {
  target: string;
  tool: string;
  clients: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerCall: number;
  errors: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { method: 'GET' });
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/** Process CPU time (user + system) in microseconds, from /proc. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in clock ticks (100 Hz)
}

function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return line ? Math.round(Number(line[1]) / 1024) : NaN;
}

/** A real success: a JSON-RPC result that is not a tool error (JSON or SSE framing). */
function isSuccess(body: string): boolean {
  const json = body.startsWith('event:') ? body.slice(body.indexOf('data: ') + 6) : body;
  try {
    const message = JSON.parse(json) as { result?: { isError?: boolean } };
    return message.result !== undefined && message.result.isError !== true;
  } catch {
    return false;
  }
}

function callBody(tool: string, args: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: tool, arguments: args },
  });
}

async function load(target: Target, tool: string, clients: number, amount: number): Promise<Row> {
  const pid = target.process.pid!;
  const cpuBefore = cpuMicros(pid);
  const started = performance.now();
  let lastResponse = started;
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        connections: clients,
        amount,
        timeout: 30,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...target.headers,
        },
        verifyBody: isSuccess,
        body: callBody('echo', { text: 'hello' }),
        // Counters: one per connection, incremented on every request of that connection, so conflicts come only
        // from real concurrency on the same row. (Per connection, not per request: autocannon resets a request
        // context after every pass over `requests`, so a name kept there would be new on every request.)
        setupClient: (client: { setBody(body: string): void }) => {
          if (tool !== 'echo')
            client.setBody(callBody(tool, { name: `c${Math.random().toString(36).slice(2, 10)}` }));
        },
      } as autocannon.Options,
      (error, done) => (error ? reject(error as Error) : resolve(done)),
    );
    instance.on('response', () => (lastResponse = performance.now()));
  });
  // CPU up to the end of the run; rate up to the last response (autocannon ends runs on a 1 s tick).
  const cpu = cpuMicros(pid) - cpuBefore;
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  return {
    target: target.name,
    tool,
    clients,
    requests: result.requests.total,
    rps: Math.round(result.requests.total / ((lastResponse - started) / 1000)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerCall: Math.round(cpu / Math.max(1, result.requests.total)),
    errors,
  };
}

/** `ENV NODE_OPTIONS=…` of the Dockerfile: the service is measured as it is deployed. */
function imageNodeOptions(): string {
  return /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1].trim() ?? '';
}

function start(cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  const dbName = `mcp_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'mcp-bench-'));
  const servicePort = 3401;
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    PORT: String(servicePort),
    PUBLIC_URL: `http://localhost:${servicePort}`,
    DATA_DIR: dataDir,
    DATABASE_URL: dbUrl.toString(),
    MIGRATIONS_RUN: 'true',
    LOG_LEVEL: 'info',
    DB_POOL_SIZE,
    // Limits stay on (evaluated on every call) but high enough not to trip during the benchmark.
    RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
    // One agent drives up to 64 connections.
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
  };
  const children: ChildProcess[] = [];
  const rows: Row[] = [];
  try {
    // Migrate, grant and mint before starting the measured process.
    execFileSync('node', ['dist/src/database/cli.js', 'run'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (const tool of TOOLS) {
      execFileSync('node', ['dist/src/permissions/grant.cli.js', '--agent', AGENT, '--tool', tool], {
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
    }
    const token = mintToken(env);

    const prototype = start('node', ['dist/bench/baseline-server.js', '3400'], {});
    // The service runs with the NODE_OPTIONS the container image sets (the heap cap), unless overridden.
    const serviceNodeOptions = process.env.BENCH_SERVICE_NODE_OPTIONS ?? imageNodeOptions();
    const service = start(
      'node',
      [...serviceNodeOptions.split(' ').filter(Boolean), 'dist/src/main.js'],
      env,
    );
    // The same service with the audit trail off, to price the audit (same database, same dev keys and audience).
    const auditOff = start('node', [...serviceNodeOptions.split(' ').filter(Boolean), 'dist/src/main.js'], {
      ...env,
      PORT: String(servicePort + 1),
      AUDIT_ENABLED: 'false',
    });
    children.push(prototype, service, auditOff);
    const A: Target = {
      name: 'prototype',
      url: 'http://127.0.0.1:3400/mcp',
      process: prototype,
      headers: {},
    };
    const B: Target = {
      name: 'service',
      url: `http://localhost:${servicePort}/mcp`,
      process: service,
      headers: { authorization: `Bearer ${token}` },
    };
    await waitFor(A.url, prototype);
    await waitFor(`http://127.0.0.1:${servicePort}/health/ready`, service);
    await waitFor(`http://127.0.0.1:${servicePort + 1}/health/ready`, auditOff);
    const C: Target = {
      ...B,
      name: 'service, audit off',
      url: `http://localhost:${servicePort + 1}/mcp`,
      process: auditOff,
    };

    // Warm-up (JIT, pools), not reported.
    await load(A, 'echo', 16, 1000);
    await load(B, 'echo', 16, 1000);
    await load(C, 'echo', 16, 1000);
    await load(B, 'counter.increment', 16, 500);
    await resetCounters(dbUrl.toString());

    for (const clients of LEVELS) {
      for (let rep = 0; rep < REPS; rep++) {
        const amount = clients === 1 ? REQUESTS / 3 : REQUESTS;
        rows.push(await load(A, 'echo', clients, amount));
        rows.push(await load(B, 'echo', clients, amount));
        rows.push(await load(C, 'echo', clients, amount));
      }
    }
    let counted = 0;
    for (const clients of LEVELS.filter((c) => c > 1)) {
      for (let rep = 0; rep < REPS; rep++) {
        const row = await load(B, 'counter.increment', clients, REQUESTS);
        rows.push(row);
        counted += row.requests - row.errors;
      }
    }
    const { total: stored, counters } = await sumCounters(dbUrl.toString());
    const report = summarize(rows, {
      prototype: peakRssMb(prototype.pid!),
      service: peakRssMb(service.pid!),
    });
    const lost = counted - stored;
    const rate = (target: string, clients: number) =>
      report.summary.find((s) => s.target === target && s.tool === 'echo' && s.clients === clients)?.rps ??
      NaN;
    for (const clients of LEVELS.filter((c) => c > 1)) {
      const ratio = rate('service', clients) / rate('service, audit off', clients);
      report.markdown += `\nAudit on ÷ off, echo requests/s: ${ratio.toFixed(2)} at ${clients} clients.`;
    }
    report.markdown += `\n\nService NODE_OPTIONS: \`${serviceNodeOptions || '(none)'}\` (the Dockerfile's unless BENCH_SERVICE_NODE_OPTIONS).`;
    report.markdown += '\n';
    report.markdown += `\nCounter check: ${counted} acknowledged increments on ${counters} counters, ${stored} stored (lost updates: ${lost}).\n`;
    console.log(report.markdown);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      'bench/results/latest.json',
      JSON.stringify(
        { date: new Date().toISOString(), serviceNodeOptions, rows, summary: report.summary, lost },
        null,
        2,
      ),
    );
    writeFileSync('bench/results/latest.md', report.markdown);
    if (lost !== 0 || rows.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await sleep(500);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

function mintToken(env: Record<string, string>): string {
  const out = execFileSync(
    'node',
    [
      'dist/src/auth/mint-token.cli.js',
      '--agent',
      AGENT,
      '--scope',
      TOOLS.map((t) => `tool:${t}`).join(' '),
      '--ttl',
      '2h',
    ],
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  const token = out
    .trim()
    .split(/\s+/)
    .find((w) => /^ey[\w-]+\.[\w-]+\.[\w-]+$/.test(w));
  if (!token) throw new Error('npm run token printed no token');
  return token;
}

async function withDb<T>(url: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const resetCounters = (url: string) =>
  withDb(url, (c) =>
    c.query(`DELETE FROM agent_state WHERE agent_id = $1 AND key LIKE 'counter/%'`, [AGENT]),
  );

/** The sum of the bench agent's counters, and how many there are (one per connection and run). */
const sumCounters = (url: string) =>
  withDb(url, async (c) => {
    const { rows } = await c.query<{ total: string | null; counters: string }>(
      `SELECT sum((value #>> '{}')::bigint) AS total, count(*) AS counters
         FROM agent_state WHERE agent_id = $1 AND key LIKE 'counter/%'`,
      [AGENT],
    );
    return { total: Number(rows[0].total ?? 0), counters: Number(rows[0].counters) };
  });

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

function summarize(rows: Row[], rss: Record<string, number>) {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.target}|${row.tool}|${row.clients}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const summary = [...groups.entries()].map(([key, group]) => {
    const [target, tool, clients] = key.split('|');
    return {
      target,
      tool,
      clients: Number(clients),
      rps: Math.round(mean(group.map((r) => r.rps))),
      p50: mean(group.map((r) => r.p50)),
      p99: mean(group.map((r) => r.p99)),
      cpuUsPerCall: Math.round(mean(group.map((r) => r.cpuUsPerCall))),
      errors: group.reduce((a, r) => a + r.errors, 0),
    };
  });
  const baseline = (clients: number) =>
    summary.find((s) => s.target === 'prototype' && s.clients === clients)?.rps ?? NaN;
  let markdown = `| target | tool | clients | req/s | ratio to prototype echo | p50 ms | p99 ms | server CPU µs/call | errors |\n`;
  markdown += `|---|---|---|---|---|---|---|---|---|\n`;
  for (const s of summary) {
    const ratio = (s.rps / baseline(s.clients)).toFixed(2);
    markdown += `| ${s.target} | ${s.tool} | ${s.clients} | ${s.rps} | ${ratio}× | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.cpuUsPerCall} | ${s.errors} |\n`;
  }
  markdown += `\nPeak RSS: prototype ${rss.prototype} MB, service ${rss.service} MB.\n`;
  return { summary, markdown };
}

await main();
