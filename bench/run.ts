/**
 * `npm run bench`: issue #19's goals, every figure a ratio of runs taken seconds apart in ONE run on this machine
 * (2 shared cores: read the ratios, not the absolute figures).
 *
 *   baseline       bench/baseline-v2-server.ts: a bare SDK v2 server, no policy, `echo` and `increment` (in-memory
 *                  Map). Both instance strategies (pooled, per-request) are measured in a calibration and the
 *                  faster one is "the baseline" for the rest of the run.
 *   service        this build, full policy: PostgreSQL and Redis of the bench's own (bench/backing-services.ts),
 *                  RS256 at+jwt tokens of an external-IdP-style issuer (bench/bench-idp.ts), audit on, rate limits
 *                  evaluated but not tripped, the Dockerfile's NODE_OPTIONS.
 *   pre-migration  the build of BENCH_BASELINE_REF (default 07a3c92, the last SDK 1.x commit), same environment
 *                  (its own database in the same cluster), legacy traffic only: issue #16's A/B line.
 *   floors         bench/floor-server.ts, legacy `echo` only, reported beside the goals: the call answered by
 *                  node:http alone, and by the service's framework shape (NestJS, Fastify, pino, five guards, one
 *                  interceptor) doing no MCP or policy work: what the stack costs before the service's own work.
 *
 * Cells at each level of BENCH_LEVELS (default 16 connections): `echo` on modern and on legacy traffic
 * (bench/traffic.ts), then the hot counter at 16 connections (`increment` / `counter.increment`, ONE name).
 * After a warm-up of BENCH_WARMUP (5000) requests per cell, each repetition (BENCH_REPS, default 5, at least 3) runs
 * every cell, in reverse order on odd repetitions; a ratio is the median over repetitions of the ratio of the two
 * runs of one repetition. CPU per call: the service's own and in total (service + PostgreSQL postmaster and all its backends + redis-server, from /proc); the baseline's
 * own. Then: legacy sessions that never send DELETE and an `echo` soak (VmRSS every second), the durability check
 * of the hot counter (stored value and audit rows = acknowledged increments; exit code 1 otherwise) and the
 * machine statement. Results: bench/results/latest.{json,md}.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Result } from 'autocannon';
import { BenchIdp } from './bench-idp.js';
import { freePort, imageNodeOptions, PgCluster, RedisServer } from './backing-services.js';
import { openLegacySessions } from './legacy-sessions.js';
import { premigrationBuild } from './premigration-build.js';
import { cpuMicros, cpuModel, loadAverage, memTotalGb, peakRssMb, rssMb, treeCpuMicros } from './proc.js';
import { callBody, callHeaders, isSuccess, type Traffic } from './traffic.js';

const env = process.env;
const LEVELS = (env.BENCH_LEVELS ?? '16').split(',').map(Number);
const REPS = Math.max(3, Number(env.BENCH_REPS ?? 5));
const REQUESTS = Number(env.BENCH_REQUESTS ?? 2000);
const SOAK_SEC = Number(env.BENCH_SOAK_SEC ?? 60);
const SESSIONS = Number(env.BENCH_SESSIONS ?? 500);
/**
 * Requests per cell before anything is measured. The service needs ≈ 10,000 calls to reach its steady CPU per call
 * (JIT tiers, heap sizing: 860 µs/call over its first 1,000 `echo` calls, 450–600 µs up to 5,000, 200–260 µs after
 * 10,000); with 1,000 its first repetitions were still warming up while the small baseline was warm.
 */
const WARMUP = Number(env.BENCH_WARMUP ?? 5000);
const DB_POOL_SIZE = env.BENCH_DB_POOL_SIZE ?? '10';
const BASELINE_REF = env.BENCH_BASELINE_REF ?? '07a3c92';
const AGENT = 'bench-agent';
const TOOLS = ['echo', 'counter.increment'];
const HOT_CLIENTS = 16;
const HOT = 'hot';
/** The goals of issue #19 (ratios to the baseline) and the A/B floor of issue #16. */
const GOAL = { rps: 1.0, p99: 1.0, cpu: 1.0, hwmMb: 200, growth: 0.05, abFloor: 0.95 };

type Kind = 'echo' | 'hot';
type TargetName = 'baseline pooled' | 'baseline per-request' | 'service' | 'pre-migration' | Floor;
/** bench/floor-server.ts: the legacy `echo` with no SDK and no policy (node:http alone; the service's framework). */
type Floor = 'floor node:http' | 'floor NestJS';

interface Target {
  name: TargetName;
  url: string;
  process: ChildProcess;
  headers: Record<string, string>;
  /** CPU time so far, µs: the process's own, and with its database and Redis. */
  cpu(): { own: number; total: number };
}

interface Cell {
  target: Target;
  kind: Kind;
  traffic: Traffic;
  /** Run for its effect on the target (see the echo cells), not reported. */
  unreported?: true;
}

interface Row {
  target: TargetName;
  kind: Kind;
  traffic: Traffic;
  clients: number;
  /** Which repetition: the runs of one repetition are neighbours in time, so ratios pair them. */
  rep: number;
  requests: number;
  /** Responses checked to be real successes (for `hot`: acknowledged increments). */
  ok: number;
  rps: number;
  p50: number;
  p99: number;
  cpuOwnUs: number;
  cpuTotalUs: number;
  errors: number;
}

/** The target's pid, or a clear error when its process is gone. */
function alive({ name, process: child }: Target): number {
  if (child.exitCode === null && child.signalCode === null) return child.pid!;
  throw new Error(`${name} exited during the benchmark (${child.signalCode ?? `code ${child.exitCode}`})`);
}

const toolOf = (target: Target, kind: Kind) =>
  kind === 'echo' ? 'echo' : target.name === 'service' ? 'counter.increment' : 'increment';
const argsOf = (kind: Kind, counter: string) => (kind === 'echo' ? { text: 'hello' } : { name: counter });

function request(target: Target, kind: Kind, traffic: Traffic, counter = HOT) {
  const tool = toolOf(target, kind);
  return {
    method: 'POST' as const,
    headers: { ...callHeaders(traffic, tool), ...target.headers },
    body: callBody(traffic, tool, argsOf(kind, counter)),
  };
}

function cannon(target: Target, options: Partial<autocannon.Options>, onResponse = () => {}) {
  return new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      { url: target.url, timeout: 30, verifyBody: isSuccess, ...options } as autocannon.Options,
      (error, done) => (error ? reject(error as Error) : resolve(done)),
    );
    instance.on('response', onResponse);
  });
}

/** One autocannon run of a fixed number of requests, every response checked. */
async function load(cell: Cell, clients: number, amount: number, counter = HOT): Promise<Omit<Row, 'rep'>> {
  const { target, kind, traffic } = cell;
  alive(target);
  const before = target.cpu();
  const started = performance.now();
  let lastResponse = started;
  const result = await cannon(
    target,
    { connections: clients, amount, ...request(target, kind, traffic, counter) },
    () => (lastResponse = performance.now()),
  );
  alive(target);
  const after = target.cpu();
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  const calls = Math.max(1, result.requests.total);
  return {
    target: target.name,
    kind,
    traffic,
    clients,
    requests: result.requests.total,
    ok: result.requests.total - result.non2xx - (result.mismatches ?? 0),
    // Rate up to the last response (autocannon ends runs on a 1 s tick).
    rps: Math.round(result.requests.total / ((lastResponse - started) / 1000)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuOwnUs: Math.round((after.own - before.own) / calls),
    cpuTotalUs: Math.round((after.total - before.total) / calls),
    errors,
  };
}

/** Runs every cell `reps` times, reversed on odd repetitions. */
async function rotate(cells: Cell[], clients: number, amount: number, reps: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (let rep = 0; rep < reps; rep++)
    for (const cell of rep % 2 ? [...cells].reverse() : cells) {
      const row = await load(cell, clients, amount);
      if (!cell.unreported) rows.push({ ...row, rep });
    }
  return rows;
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

type Metric = 'rps' | 'p99' | 'cpuOwnUs' | 'cpuTotalUs';

/** Median over repetitions of a's metric ÷ b's metric in the same repetition. */
function paired(
  rows: Row[],
  a: TargetName,
  b: TargetName,
  kind: Kind,
  traffic: Traffic,
  clients: number,
  m: Metric,
) {
  const of = (name: TargetName) =>
    rows.filter(
      (r) => r.target === name && r.kind === kind && r.traffic === traffic && r.clients === clients,
    );
  const others = of(b);
  const ratio = median(of(a).map((r) => r[m] / (others.find((o) => o.rep === r.rep)?.[m] ?? NaN)));
  return Math.round(ratio * 100) / 100;
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: env.PATH ?? '', HOME: env.HOME ?? '', ...extra };
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

interface Infra {
  pg: PgCluster;
  redis: RedisServer;
  idp: BenchIdp;
}

/**
 * A service build on its own database of the bench's cluster (migrated with the build's CLI), Redis database
 * `redisDb`, tokens of the bench's issuer; grants with the build's CLI, then started.
 */
async function startService(root: string, label: string, redisDb: number, infra: Infra, nodeOptions: string) {
  const database = `bench_${label}`;
  await infra.pg.withClient('postgres', (c) => c.query(`CREATE DATABASE ${database}`));
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const serviceEnv = cleanEnv({
    NODE_ENV: 'development', // production would refuse the loopback issuer's plain-HTTP URLs
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: 'info',
    DB_POOL_SIZE,
    DATABASE_URL: infra.pg.databaseUrl(database),
    MIGRATIONS_RUN: 'true',
    REDIS_URL: `${infra.redis.url}/${redisDb}`,
    AUTH_ISSUER: infra.idp.issuer,
    AUTH_JWKS_URI: infra.idp.jwksUri,
    // Limits stay on (evaluated on every call) but high enough not to trip during the benchmark.
    RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
    // The memory phase's never-closed legacy sessions must all be admitted.
    MCP_SESSION_MAX: String(Math.max(1000, SESSIONS * 2)),
  });
  const cli = (script: string, args: string[]) =>
    execFileSync(process.execPath, [join(root, 'dist/src', script), ...args], {
      cwd: root,
      env: serviceEnv,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  cli('database/cli.js', ['run']);
  cli('permissions/grant.cli.js', ['--agent', AGENT, ...TOOLS.flatMap((tool) => ['--tool', tool])]);
  const token = await infra.idp.mint(AGENT, `${publicUrl}/mcp`, TOOLS.map((t) => `tool:${t}`).join(' '));
  const child = spawn(
    process.execPath,
    [...nodeOptions.split(' ').filter(Boolean), join(root, 'dist/src/main.js')],
    {
      cwd: root,
      env: serviceEnv,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(`http://127.0.0.1:${port}/health/ready`, child);
  const target: Target = {
    name: label === 'current' ? 'service' : 'pre-migration',
    url: `http://localhost:${port}/mcp`,
    process: child,
    headers: { authorization: `Bearer ${token}` },
    cpu: () => {
      const own = cpuMicros(alive(target));
      return { own, total: own + treeCpuMicros(infra.pg.pid) + cpuMicros(infra.redis.pid) };
    },
  };
  return { target, database };
}

const startBaseline = (mode: 'pooled' | 'per-request') =>
  startPlain('baseline-v2-server.js', mode, `baseline ${mode}`);
const startFloor = (mode: 'http' | 'nest') =>
  startPlain('floor-server.js', mode, mode === 'http' ? 'floor node:http' : 'floor NestJS');

/** A server of bench/ with no backing services: its CPU is its own. */
async function startPlain(script: string, mode: string, name: TargetName): Promise<Target> {
  const port = await freePort();
  const child = spawn(process.execPath, [`dist/bench/${script}`, String(port), mode], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitFor(url, child);
  const target: Target = {
    name,
    url,
    process: child,
    headers: {},
    cpu: () => {
      const own = cpuMicros(alive(target));
      return { own, total: own };
    },
  };
  return target;
}

/** Calibration: both instance strategies on `echo`, both eras; the faster (geometric mean of the ratios) wins. */
async function calibrate(pooled: Target, perRequest: Target) {
  const cells: Cell[] = (['modern', 'legacy'] as const).flatMap((traffic) => [
    { target: pooled, kind: 'echo' as const, traffic },
    { target: perRequest, kind: 'echo' as const, traffic },
  ]);
  for (const cell of cells) await load(cell, 16, 500); // warm-up
  const rows = await rotate(cells, 16, Math.round(REQUESTS / 2), 3);
  const ratio = (traffic: Traffic) => paired(rows, pooled.name, perRequest.name, 'echo', traffic, 16, 'rps');
  const rps = (name: TargetName, traffic: Traffic) =>
    Math.round(median(rows.filter((r) => r.target === name && r.traffic === traffic).map((r) => r.rps)));
  const pooledOverPerRequest = { modern: ratio('modern'), legacy: ratio('legacy') };
  const winner =
    Math.sqrt(pooledOverPerRequest.modern * pooledOverPerRequest.legacy) >= 1 ? pooled : perRequest;
  const figures = (['modern', 'legacy'] as const).map((t) => ({
    traffic: t,
    pooled: rps(pooled.name, t),
    perRequest: rps(perRequest.name, t),
    pooledOverPerRequest: pooledOverPerRequest[t],
  }));
  return { winner, figures, rows };
}

/** The soak: `echo` at 16 connections for SOAK_SEC, modern and legacy requests alternating, VmRSS every second. */
async function soak(service: Target) {
  const pid = alive(service);
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssMb(pid)), 1000);
  const result = await cannon(service, {
    connections: 16,
    duration: SOAK_SEC,
    requests: [request(service, 'echo', 'modern'), request(service, 'echo', 'legacy')],
  });
  clearInterval(timer);
  // Warm-up: the first 10 s (a third of a short soak); then the first and the last 10 s windows compared.
  const window = Math.max(1, Math.min(10, Math.floor(samples.length / 3)));
  const early = samples.slice(window, 2 * window);
  const late = samples.slice(-window);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const growth = mean(late) / mean(early) - 1;
  const tail = samples.slice(window);
  const slopeMbPerMin = slope(tail) * 60;
  return {
    seconds: SOAK_SEC,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0),
    rssEarlyMb: Math.round(mean(early)),
    rssLateMb: Math.round(mean(late)),
    growth: Math.round(growth * 1000) / 1000,
    slopeMbPerMin: Math.round(slopeMbPerMin * 10) / 10,
    samplesMb: samples.map(Math.round),
  };
}

/** Least-squares slope of equally spaced samples (per sample). */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** The hot counter after the service stopped (its audit flushed): stored value and audit rows. */
async function durability(pg: PgCluster, database: string) {
  return pg.withClient(database, async (c) => {
    const one = async (sql: string, params: unknown[]) =>
      Number(
        Object.values((await c.query<Record<string, string | null>>(sql, params)).rows[0] ?? {})[0] ?? 0,
      );
    return {
      stored: await one(`SELECT (value #>> '{}')::bigint FROM agent_state WHERE agent_id = $1 AND key = $2`, [
        AGENT,
        `counter/${HOT}`,
      ]),
      stateChangeRows: await one(
        `SELECT count(*) FROM audit_event WHERE kind = 'state_change' AND agent_id = $1 AND detail->>'key' = $2`,
        [AGENT, `counter/${HOT}`],
      ),
      toolCallRows: await one(
        `SELECT count(*) FROM audit_event
          WHERE kind = 'tool_call' AND agent_id = $1 AND tool_name = 'counter.increment' AND outcome = 'success'`,
        [AGENT],
      ),
    };
  });
}

function machine(serviceNodeOptions: string, infra: Infra, loadStart: string) {
  return {
    cpu: cpuModel(),
    cores: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cpus().length,
    memoryGb: memTotalGb(),
    loadAverageStart: loadStart,
    loadAverageEnd: loadAverage(),
    node: process.version,
    postgres: infra.pg.version(),
    redis: infra.redis.version(),
    serviceNodeOptions,
  };
}

async function main(): Promise<void> {
  const loadStart = loadAverage();
  const serviceNodeOptions = env.BENCH_SERVICE_NODE_OPTIONS ?? imageNodeOptions();
  const previous = BASELINE_REF ? premigrationBuild(BASELINE_REF) : undefined;
  const children: ChildProcess[] = [];
  const cleanup: (() => unknown)[] = [];
  try {
    const pg = await PgCluster.start();
    cleanup.push(() => pg.stop());
    const redis = await RedisServer.start();
    cleanup.push(() => redis.stop());
    const idp = await BenchIdp.start();
    cleanup.push(() => idp.close());
    const infra: Infra = { pg, redis, idp };

    // 1. Calibration: pooled vs per-request; the loser stops.
    const pooled = await startBaseline('pooled');
    const perRequest = await startBaseline('per-request');
    children.push(pooled.process, perRequest.process);
    const calibration = await calibrate(pooled, perRequest);
    const baseline = calibration.winner;
    await stop((baseline === pooled ? perRequest : pooled).process);

    // 2. The services.
    const current = await startService(resolve('.'), 'current', 0, infra, serviceNodeOptions);
    const service = current.target;
    children.push(service.process);
    const pre = previous
      ? (await startService(previous.dir, 'premigration', 1, infra, serviceNodeOptions)).target
      : undefined;
    if (pre) children.push(pre.process);
    const floors = [await startFloor('http'), await startFloor('nest')];
    children.push(...floors.map((f) => f.process));

    // Pairs stay adjacent in both orders: each ratio compares neighbouring runs. The pre-migration build runs an
    // unreported legacy cell where the service runs its modern one, so both builds have served as many calls when
    // they are compared (the same build measured ≈ 1.4× slower as "pre-migration" when it had served fewer: it
    // was still warming up, see WARMUP).
    const echoCells: Cell[] = [
      { target: baseline, kind: 'echo', traffic: 'modern' },
      { target: service, kind: 'echo', traffic: 'modern' },
      ...(pre
        ? [{ target: pre, kind: 'echo' as const, traffic: 'legacy' as const, unreported: true as const }]
        : []),
      ...floors.map((target) => ({ target, kind: 'echo' as const, traffic: 'legacy' as const })),
      { target: baseline, kind: 'echo', traffic: 'legacy' },
      { target: service, kind: 'echo', traffic: 'legacy' },
      ...(pre ? [{ target: pre, kind: 'echo' as const, traffic: 'legacy' as const }] : []),
    ];
    const hotCells: Cell[] = [
      { target: baseline, kind: 'hot', traffic: 'modern' },
      { target: service, kind: 'hot', traffic: 'modern' },
    ];

    // Warm-up (JIT, heap, pools; each service gets 2 × WARMUP echo calls), not reported; its increments go to
    // another counter name.
    for (const cell of echoCells) await load(cell, 16, WARMUP);
    const warm = await load(hotCells[1], HOT_CLIENTS, WARMUP, 'warm');
    await load(hotCells[0], HOT_CLIENTS, WARMUP, 'warm');

    // 3. Throughput.
    const rows: Row[] = [];
    for (const clients of LEVELS)
      rows.push(...(await rotate(echoCells, clients, clients === 1 ? REQUESTS / 3 : REQUESTS, REPS)));
    rows.push(...(await rotate(hotCells, HOT_CLIENTS, REQUESTS, REPS)));
    const acknowledged = rows
      .filter((r) => r.target === 'service' && r.kind === 'hot')
      .reduce((a, r) => a + r.ok, 0);

    // 4. Memory: sessions never closed, then the soak.
    await openLegacySessions(service.url, service.headers.authorization, SESSIONS);
    const rssAfterSessionsMb = Math.round(rssMb(alive(service)));
    const soaked = await soak(service);
    const hwmMb = peakRssMb(alive(service));

    // 5. Durability, read once the service has stopped (its audit flushed).
    await stop(service.process);
    const stored = await durability(pg, current.database);
    const durable = {
      acknowledged,
      warmUpAcknowledged: warm.ok,
      ...stored,
      lost: acknowledged - stored.stored,
      auditMissing: acknowledged - stored.stateChangeRows,
      toolCallMissing: acknowledged + warm.ok - stored.toolCallRows,
    };

    const facts = machine(serviceNodeOptions, infra, loadStart);
    const report = render({
      rows,
      calibration,
      baseline,
      pre: !!pre,
      durable,
      soaked,
      hwmMb,
      rssAfterSessionsMb,
      facts,
      previous,
    });
    console.log(report.markdown);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      'bench/results/latest.json',
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: facts,
          settings: { levels: LEVELS, reps: REPS, requests: REQUESTS, soakSec: SOAK_SEC, sessions: SESSIONS },
          premigrationCommit: previous?.commit,
          baseline: baseline.name,
          calibration: calibration.figures,
          goals: report.goals,
          durability: durable,
          memory: { hwmMb, rssAfterSessionsMb, ...soaked },
          rows,
          calibrationRows: calibration.rows,
        },
        null,
        2,
      ),
    );
    writeFileSync('bench/results/latest.md', report.markdown);
    const broken =
      durable.lost !== 0 ||
      durable.auditMissing !== 0 ||
      durable.toolCallMissing !== 0 ||
      soaked.errors > 0 ||
      rows.some((r) => r.errors > 0);
    if (broken) process.exitCode = 1;
  } finally {
    await Promise.all(children.map(stop));
    for (const step of cleanup.reverse()) await step();
  }
}

interface Goal {
  goal: string;
  measured: number;
  target: string;
  met: boolean;
}

function render(input: {
  rows: Row[];
  calibration: Awaited<ReturnType<typeof calibrate>>;
  baseline: Target;
  pre: boolean;
  durable: Record<string, number>;
  soaked: Awaited<ReturnType<typeof soak>>;
  hwmMb: number;
  rssAfterSessionsMb: number;
  facts: ReturnType<typeof machine>;
  previous?: { commit: string };
}) {
  const { rows, calibration, baseline, durable, soaked, hwmMb, facts } = input;
  const b = baseline.name;
  const goals: Goal[] = [];
  const atLeast = (goal: string, measured: number, floor: number) =>
    goals.push({ goal, measured, target: `≥ ${floor.toFixed(2)}×`, met: measured >= floor });
  const atMost = (goal: string, measured: number, cap: number, unit = '×') =>
    goals.push({ goal, measured, target: `≤ ${cap}${unit}`, met: measured <= cap });
  for (const clients of LEVELS) {
    for (const traffic of ['modern', 'legacy'] as const) {
      const at = `echo ${traffic}, ${clients} clients`;
      atLeast(
        `req/s service ÷ baseline (${at})`,
        paired(rows, 'service', b, 'echo', traffic, clients, 'rps'),
        GOAL.rps,
      );
      atMost(
        `p99 service ÷ baseline (${at})`,
        paired(rows, 'service', b, 'echo', traffic, clients, 'p99'),
        GOAL.p99,
      );
      atMost(
        `CPU/call total ÷ baseline (${at})`,
        paired(rows, 'service', b, 'echo', traffic, clients, 'cpuTotalUs'),
        GOAL.cpu,
      );
    }
  }
  atLeast(
    `req/s hot counter service ÷ baseline (${HOT_CLIENTS} clients, one counter)`,
    paired(rows, 'service', b, 'hot', 'modern', HOT_CLIENTS, 'rps'),
    GOAL.rps,
  );
  atMost('VmHWM of the service, MB (sessions + soak)', hwmMb, GOAL.hwmMb, ' MB');
  atMost(
    `RSS growth over the ${soaked.seconds} s soak (last vs first window after warm-up)`,
    soaked.growth,
    GOAL.growth,
    '',
  );
  atMost(
    'lost or unaudited increments',
    Math.abs(durable.lost) + Math.abs(durable.auditMissing) + Math.abs(durable.toolCallMissing),
    0,
    '',
  );
  if (input.pre)
    for (const clients of LEVELS.filter((c) => c > 1))
      atLeast(
        `A/B #16: req/s service ÷ pre-migration (echo legacy, ${clients} clients)`,
        paired(rows, 'service', 'pre-migration', 'echo', 'legacy', clients, 'rps'),
        GOAL.abFloor,
      );

  const x = (n: number) => (Number.isNaN(n) ? '—' : n.toFixed(2));
  // Ratios with two decimals, absolute figures as they are.
  const shown = (g: Goal) => (g.target.endsWith('×') ? `${x(g.measured)}×` : String(g.measured));
  let md = `## Issue #19 goals (each the median of ${REPS} paired rotations, same run)\n\n`;
  md += `Baseline: bare SDK v2, **${b.replace('baseline ', '')}** server instances (faster in calibration).\n\n`;
  md += '| goal | measured | goal | verdict |\n|---|---|---|---|\n';
  for (const g of goals)
    md += `| ${g.goal} | ${shown(g)} | ${g.target} | ${g.met ? 'met' : '**NOT met**'} |\n`;

  md += floorsLine(rows, b);
  md +=
    '\nCalibration (echo, 16 clients, 3 rotations), req/s:\n\n| traffic | pooled | per-request | pooled ÷ per-request |\n|---|---|---|---|\n';
  for (const c of calibration.figures)
    md += `| ${c.traffic} | ${c.pooled} | ${c.perRequest} | ${x(c.pooledOverPerRequest)} |\n`;

  md +=
    '\n| target | cell | traffic | clients | req/s | p50 ms | p99 ms | CPU µs/call own | CPU µs/call total | errors |\n';
  md += '|---|---|---|---|---|---|---|---|---|---|\n';
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.target}|${r.kind}|${r.traffic}|${r.clients}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const runs of groups.values()) {
    const { target, kind, traffic, clients } = runs[0];
    const med = (m: keyof Row) => median(runs.map((r) => r[m] as number));
    md += `| ${target} | ${kind === 'hot' ? 'hot counter' : 'echo'} | ${traffic} | ${clients} | ${Math.round(med('rps'))} | ${med('p50').toFixed(1)} | ${med('p99').toFixed(1)} | ${Math.round(med('cpuOwnUs'))} | ${Math.round(med('cpuTotalUs'))} | ${runs.reduce((a, r) => a + r.errors, 0)} |\n`;
  }
  md +=
    '\nCPU "total" for the services: service + PostgreSQL (postmaster, its live backends and the reaped ones\' ';
  md += 'cutime/cstime) + redis-server; for the baseline its own process.\n';
  md += `\nDurability (hot counter \`${HOT}\`): ${durable.acknowledged} acknowledged increments, ${durable.stored} stored, `;
  md += `${durable.stateChangeRows} state_change audit rows, ${durable.toolCallRows} successful counter.increment tool_call rows `;
  md += `(incl. ${durable.warmUpAcknowledged} warm-up calls on another counter): lost ${durable.lost}, unaudited ${durable.auditMissing}, `;
  md += `tool_call gap ${durable.toolCallMissing}.\n`;
  md += `\nMemory: ${SESSIONS} legacy 2025 sessions opened and never deleted (RSS then ${input.rssAfterSessionsMb} MB), `;
  md += `then ${soaked.seconds} s of echo (modern + legacy, 16 clients, ${soaked.requests} requests, ${soaked.errors} errors): `;
  md += `RSS ${soaked.rssEarlyMb} → ${soaked.rssLateMb} MB (growth ${(soaked.growth * 100).toFixed(1)}%, slope ${soaked.slopeMbPerMin} MB/min), VmHWM ${hwmMb} MB.\n`;
  md += `\nMachine: ${facts.cpu}, ${facts.cores} cores, ${facts.memoryGb} GB; load average ${facts.loadAverageStart} at start, `;
  md += `${facts.loadAverageEnd} at end; Node ${facts.node}; ${facts.postgres}; Redis ${facts.redis}; `;
  md += `service NODE_OPTIONS \`${facts.serviceNodeOptions || '(none)'}\`; pre-migration build: `;
  md += `${input.previous ? input.previous.commit.slice(0, 7) : 'skipped (BENCH_BASELINE_REF empty)'}.\n`;
  return { markdown: md, goals };
}

/** The floors' CPU per legacy `echo` beside the baseline's and the service's (the first level of BENCH_LEVELS). */
function floorsLine(rows: Row[], b: TargetName): string {
  const clients = LEVELS[0];
  const us = (name: TargetName, m: 'cpuOwnUs' | 'cpuTotalUs' = 'cpuOwnUs') =>
    Math.round(
      median(
        rows
          .filter(
            (r) => r.target === name && r.kind === 'echo' && r.traffic === 'legacy' && r.clients === clients,
          )
          .map((r) => r[m]),
      ),
    );
  const ofBaseline = (name: TargetName) =>
    paired(rows, name, b, 'echo', 'legacy', clients, 'cpuOwnUs').toFixed(2);
  return (
    `\nWhere the gap is (legacy \`echo\`, ${clients} clients, CPU µs per call, medians): node:http alone ` +
    `${us('floor node:http')} (${ofBaseline('floor node:http')}× the baseline's); the service's framework shape ` +
    `doing no MCP or policy work ${us('floor NestJS')} (${ofBaseline('floor NestJS')}×); the bare SDK baseline ` +
    `${us(b)}; the service ${us('service')} own (${ofBaseline('service')}×), ${us('service', 'cpuTotalUs')} with ` +
    `PostgreSQL and Redis.\n`
  );
}

await main();
