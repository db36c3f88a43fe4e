/**
 * `npm run bench`: the full production path against a bare SDK v2 handler and against the pre-migration build,
 * all in one run, the targets alternating, so that every ratio compares runs taken seconds apart on the same
 * machine (this one has 2 shared cores: read the ratios, not the absolute figures).
 *
 *   bare v2        bench/baseline-v2-server.ts: the SDK's `createMcpHandler` (a server per request) on node:http,
 *                  the same `echo` tool, no auth, no audit; serves both eras
 *   service        this build in its default configuration (MCP_ERA dual): JWT auth, grant and kill-switch
 *                  checks, rate limits, the durable audit trail
 *   pre-migration  the build of BENCH_BASELINE_REF (default 07a3c92, the last SDK 1.x commit), same environment
 *                  and database kind; it speaks only the 2025 era, so it is measured on legacy traffic
 *
 * Traffic (bench/traffic.ts): `echo` on modern (2026-07-28 envelope) and on legacy (2025-11-25 stateless) requests.
 * Load: autocannon, a fixed number of connections (BENCH_LEVELS, default 1,16,64) and a fixed number of requests
 * per run, every response checked to be a real success. Each level runs the cells BENCH_REPS times, in reverse
 * order on odd repetitions, so that drift of the machine's load falls on both sides of every ratio; a ratio is the
 * median over the repetitions of the ratio of the two runs of one repetition. Then
 * `counter.increment` on the service at the levels above 1 client, with a check that no acknowledged increment
 * was lost. Results: bench/results/latest.{json,md}.
 *
 * Database: the service's default, the embedded one (each build its own DATA_DIR), unless BENCH_DATABASE_URL
 * names a PostgreSQL server: then each build gets a fresh database there, dropped at the end. The services get a
 * clean environment (PATH and HOME only, plus the settings below), not the caller's.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { premigrationBuild } from './premigration-build.js';
import { callBody, callHeaders, isSuccess, type Traffic } from './traffic.js';

const PG_URL = process.env.BENCH_DATABASE_URL;
const LEVELS = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const DB_POOL_SIZE = process.env.BENCH_DB_POOL_SIZE ?? '10';
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? '07a3c92';
const PORT = Number(process.env.BENCH_PORT ?? 3400);
const AGENT = 'bench-agent';
const TOOLS = ['echo', 'counter.increment'];
/** The A/B line of issue #16: full-policy throughput at least this share of the pre-migration build's. */
const AB_FLOOR = 0.95;

interface Target {
  name: 'bare v2' | 'service' | 'pre-migration';
  url: string;
  process: ChildProcess;
  headers: Record<string, string>;
}

interface Cell {
  target: Target;
  traffic: Traffic;
}

interface Row {
  target: Target['name'];
  /** Which repetition: the runs of one repetition are neighbours in time, so ratios pair them. */
  rep: number;
  traffic: Traffic;
  tool: string;
  clients: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerCall: number;
  errors: number;
}

/** A service build, provisioned: its directory, environment, bench token and where its database lives. */
interface Build {
  root: string;
  env: Record<string, string>;
  token: string;
  dataDir: string;
  databaseUrl?: string;
}

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/** The target's pid, or a clear error when its process is gone (its /proc entry with it). */
function alive({ name, process: child }: Target): number {
  if (child.exitCode === null && child.signalCode === null) return child.pid!;
  throw new Error(`${name} exited during the benchmark (${child.signalCode ?? `code ${child.exitCode}`})`);
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

/**
 * One autocannon run. `counter` names each connection's counter (one per connection, not per request: autocannon
 * resets a request's context after every pass over `requests`, so a name kept there would be new every time).
 */
async function load(
  cell: Cell,
  tool: string,
  clients: number,
  amount: number,
  counter?: string,
): Promise<Omit<Row, 'rep'>> {
  const { target, traffic } = cell;
  const pid = alive(target);
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
        headers: { ...callHeaders(traffic, tool), ...target.headers },
        verifyBody: isSuccess,
        body: callBody(traffic, tool, { text: 'hello' }),
        setupClient: (client: { setBody(body: string): void }) => {
          if (counter === undefined) return;
          client.setBody(
            callBody(traffic, tool, { name: `${counter}${Math.random().toString(36).slice(2, 10)}` }),
          );
        },
      } as autocannon.Options,
      (error, done) => (error ? reject(error as Error) : resolve(done)),
    );
    instance.on('response', () => (lastResponse = performance.now()));
  });
  // CPU up to the end of the run; rate up to the last response (autocannon ends runs on a 1 s tick).
  const cpu = cpuMicros(alive(target)) - cpuBefore;
  return {
    target: target.name,
    traffic,
    tool,
    clients,
    requests: result.requests.total,
    rps: Math.round(result.requests.total / ((lastResponse - started) / 1000)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerCall: Math.round(cpu / Math.max(1, result.requests.total)),
    errors: result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0),
  };
}

/** `ENV NODE_OPTIONS=…` of the Dockerfile: the service is measured as it is deployed. */
function imageNodeOptions(): string {
  return /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1].trim() ?? '';
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

/** A fresh database for one build: a directory of its own (embedded) or a new database on BENCH_DATABASE_URL. */
async function freshDatabase(label: string): Promise<{ dataDir: string; databaseUrl?: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), `mcp-bench-${label}-`));
  if (!PG_URL) return { dataDir };
  const name = `mcp_bench_${label.replace(/\W/g, '_')}_${Date.now()}`;
  await withDb(PG_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { dataDir, databaseUrl: url.toString() };
}

/** Migrates, grants the bench agent its tools and mints its token with the build's own CLIs. */
async function provision(root: string, label: string, port: number): Promise<Build> {
  const { dataDir, databaseUrl } = await freshDatabase(label);
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    PORT: String(port),
    PUBLIC_URL: `http://localhost:${port}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    DB_POOL_SIZE,
    // Limits stay on (evaluated on every call) but high enough not to trip during the benchmark.
    RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
    // One agent drives up to 64 connections.
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, MIGRATIONS_RUN: 'true' } : {}),
  };
  const cli = (script: string, args: string[]) =>
    execFileSync(process.execPath, [join(root, 'dist/src', script), ...args], {
      cwd: root,
      env: cleanEnv(env),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  if (databaseUrl) cli('database/cli.js', ['run']);
  cli('permissions/grant.cli.js', ['--agent', AGENT, ...TOOLS.flatMap((tool) => ['--tool', tool])]);
  const out = cli('auth/mint-token.cli.js', [
    '--agent',
    AGENT,
    '--scope',
    TOOLS.map((t) => `tool:${t}`).join(' '),
    '--ttl',
    '2h',
  ]);
  const token = out.split(/\s+/).find((w) => /^ey[\w-]+\.[\w-]+\.[\w-]+$/.test(w));
  if (!token) throw new Error(`${label}: the token CLI printed no token`);
  return { root, env, token, dataDir, databaseUrl };
}

function startService(build: Build, nodeOptions: string): ChildProcess {
  return spawn(
    process.execPath,
    [...nodeOptions.split(' ').filter(Boolean), join(build.root, 'dist/src/main.js')],
    { cwd: build.root, env: cleanEnv(build.env), stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

async function main(): Promise<void> {
  const serviceNodeOptions = process.env.BENCH_SERVICE_NODE_OPTIONS ?? imageNodeOptions();
  const previous = BASELINE_REF ? premigrationBuild(BASELINE_REF) : undefined;
  const children: ChildProcess[] = [];
  const builds: Build[] = [];
  const rows: Row[] = [];
  try {
    const current = await provision(resolve('.'), 'current', PORT + 1);
    builds.push(current);
    const bare = spawn(process.execPath, ['dist/bench/baseline-v2-server.js', String(PORT)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const service = startService(current, serviceNodeOptions);
    children.push(bare, service);
    const targets: Target[] = [
      { name: 'bare v2', url: `http://127.0.0.1:${PORT}/mcp`, process: bare, headers: {} },
      {
        name: 'service',
        url: `http://localhost:${PORT + 1}/mcp`,
        process: service,
        headers: { authorization: `Bearer ${current.token}` },
      },
    ];
    if (previous) {
      const old = await provision(previous.dir, 'premigration', PORT + 2);
      builds.push(old);
      const oldService = startService(old, serviceNodeOptions);
      children.push(oldService);
      targets.push({
        name: 'pre-migration',
        url: `http://localhost:${PORT + 2}/mcp`,
        process: oldService,
        headers: { authorization: `Bearer ${old.token}` },
      });
    }
    await waitFor(targets[0].url, bare);
    for (const t of targets.slice(1)) await waitFor(t.url.replace(/\/mcp$/, '/health/ready'), t.process);

    const [bareV2, svc, pre] = targets;
    // Pairs stay adjacent in both orders: each ratio compares neighbouring runs.
    const cells: Cell[] = [
      { target: bareV2, traffic: 'modern' },
      { target: svc, traffic: 'modern' },
      { target: bareV2, traffic: 'legacy' },
      { target: svc, traffic: 'legacy' },
      ...(pre ? [{ target: pre, traffic: 'legacy' as const }] : []),
    ];
    const counterCell: Cell = { target: svc, traffic: 'modern' };

    // Warm-up (JIT, pools), not reported; its counters are named apart from the measured ones.
    for (const cell of cells) await load(cell, 'echo', 16, 1000);
    await load(counterCell, 'counter.increment', 16, 500, 'w');

    for (const clients of LEVELS) {
      for (let rep = 0; rep < REPS; rep++) {
        const amount = clients === 1 ? REQUESTS / 3 : REQUESTS;
        for (const cell of rep % 2 ? [...cells].reverse() : cells)
          rows.push({ ...(await load(cell, 'echo', clients, amount)), rep });
      }
    }
    let acknowledged = 0;
    for (const clients of LEVELS.filter((c) => c > 1)) {
      for (let rep = 0; rep < REPS; rep++) {
        const row = { ...(await load(counterCell, 'counter.increment', clients, REQUESTS, 'm')), rep };
        rows.push(row);
        acknowledged += row.requests - row.errors;
      }
    }

    const rss = Object.fromEntries(targets.map((t) => [t.name, peakRssMb(t.process.pid!)]));
    // The embedded database is the service's own: read the counters once it has stopped.
    await stop(service);
    const counters = await countersOf(current);
    const lost = acknowledged - counters.total;
    const report = summarize(rows);
    const facts = [
      `Peak RSS: ${Object.entries(rss)
        .map(([name, mb]) => `${name} ${mb} MB`)
        .join(', ')}.`,
      `Counter check (service, modern): ${acknowledged} acknowledged increments on ${counters.count} counters, ` +
        `${counters.total} stored (lost updates: ${lost}).`,
      `Node ${process.version}; database: ${PG_URL ? 'PostgreSQL (BENCH_DATABASE_URL), a database per build' : 'embedded (PGlite), a DATA_DIR per build'}; ` +
        `service NODE_OPTIONS \`${serviceNodeOptions || '(none)'}\`; pre-migration build: ${previous ? previous.commit.slice(0, 7) : 'skipped (BENCH_BASELINE_REF empty)'}.`,
    ];
    const markdown = `${report.markdown}\n${facts.join('\n\n')}\n`;
    console.log(markdown);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      'bench/results/latest.json',
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          database: PG_URL ? 'postgresql' : 'embedded',
          premigrationCommit: previous?.commit,
          serviceNodeOptions,
          ratios: report.ratios,
          summary: report.summary,
          rows,
          peakRssMb: rss,
          lost,
        },
        null,
        2,
      ),
    );
    writeFileSync('bench/results/latest.md', markdown);
    if (lost !== 0 || rows.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    await Promise.all(children.map(stop));
    for (const build of builds) {
      rmSync(build.dataDir, { recursive: true, force: true });
      if (PG_URL && build.databaseUrl) {
        const name = new URL(build.databaseUrl).pathname.slice(1);
        await withDb(PG_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
    }
  }
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

/** The measured counters (prefix `m`; the warm-up's are `w`) and their sum, from the build's database. */
async function countersOf(build: Build): Promise<{ total: number; count: number }> {
  const embedded = build.databaseUrl ? undefined : await EmbeddedPostgres.start(build.dataDir);
  try {
    return await withDb(build.databaseUrl ?? embedded!.url, async (c) => {
      const { rows } = await c.query<{ total: string | null; count: string }>(
        `SELECT sum((value #>> '{}')::bigint) AS total, count(*) AS count
           FROM agent_state WHERE agent_id = $1 AND key LIKE 'counter/m%'`,
        [AGENT],
      );
      return { total: Number(rows[0].total ?? 0), count: Number(rows[0].count) };
    });
  } finally {
    await embedded?.stop();
  }
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Per cell, the median over the repetitions; per ratio, the median of the ratios of runs of the same repetition
 * (neighbours in time), so that a burst of load from elsewhere on the machine moves one pair, not the result.
 */
function summarize(rows: Row[]) {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.target}|${row.traffic}|${row.tool}|${row.clients}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const summary = [...groups.values()].map((runs) => {
    const { target, traffic, tool, clients } = runs[0];
    return {
      target,
      traffic,
      tool,
      clients,
      runs: runs.length,
      requests: runs.reduce((a, r) => a + r.requests, 0),
      rps: Math.round(median(runs.map((r) => r.rps))),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpuUsPerCall: Math.round(median(runs.map((r) => r.cpuUsPerCall))),
      errors: runs.reduce((a, r) => a + r.errors, 0),
    };
  });
  const echo = (target: Target['name'], traffic: Traffic, clients: number) =>
    groups.get(`${target}|${traffic}|echo|${clients}`) ?? [];
  const rps = (target: Target['name'], traffic: Traffic, clients: number) =>
    Math.round(median(echo(target, traffic, clients).map((r) => r.rps)));
  const paired = (a: Target['name'], b: Target['name'], traffic: Traffic, clients: number) => {
    const others = echo(b, traffic, clients);
    const ratio = median(
      echo(a, traffic, clients).map((r) => r.rps / (others.find((o) => o.rep === r.rep)?.rps ?? NaN)),
    );
    return Math.round(ratio * 100) / 100;
  };
  const ratios = LEVELS.flatMap((clients) =>
    (['modern', 'legacy'] as const).map((traffic) => ({
      clients,
      traffic,
      bareV2: rps('bare v2', traffic, clients),
      service: rps('service', traffic, clients),
      premigration: rps('pre-migration', traffic, clients),
      serviceOverBareV2: paired('service', 'bare v2', traffic, clients),
      serviceOverPremigration: paired('service', 'pre-migration', traffic, clients),
    })),
  );
  const x = (n: number) => (Number.isNaN(n) ? '—' : `${n.toFixed(2)}×`);
  const num = (n: number) => (Number.isNaN(n) ? '—' : String(n));
  let markdown = `Full-policy \`echo\`, requests/s (median of ${REPS} runs) and same-run ratios (median of paired runs):\n\n`;
  markdown +=
    '| traffic | clients | bare SDK v2 | service | service ÷ bare v2 | pre-migration | service ÷ pre-migration |\n';
  markdown += '|---|---|---|---|---|---|---|\n';
  for (const r of ratios) {
    markdown += `| ${r.traffic} | ${r.clients} | ${num(r.bareV2)} | ${num(r.service)} | ${x(r.serviceOverBareV2)} | ${num(r.premigration)} | ${x(r.serviceOverPremigration)} |\n`;
  }
  const ab = ratios.filter((r) => r.clients > 1 && !Number.isNaN(r.serviceOverPremigration));
  if (ab.length > 0) {
    const verdict = ab.every((r) => r.serviceOverPremigration >= AB_FLOOR) ? 'met' : 'NOT met';
    markdown += `\nA/B, legacy traffic: service ÷ pre-migration ${ab.map((r) => `${x(r.serviceOverPremigration)} at ${r.clients} clients`).join(', ')}; floor ${AB_FLOOR}× ${verdict}.\n`;
  }
  markdown +=
    '\n| target | traffic | tool | clients | req/s | p50 ms | p99 ms | server CPU µs/call | errors |\n';
  markdown += '|---|---|---|---|---|---|---|---|---|\n';
  for (const s of summary) {
    markdown += `| ${s.target} | ${s.traffic} | ${s.tool} | ${s.clients} | ${s.rps} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.cpuUsPerCall} | ${s.errors} |\n`;
  }
  return { summary, ratios, markdown };
}

await main();
