/**
 * `npm run bench:profile`: where the service's CPU goes on a full-policy call, one lane at a time (PROFILE_LANES,
 * default `legacy,modern,counter`: `echo` in each era, and the hot counter, `counter.increment` of ONE counter on
 * modern traffic). The bench's own PostgreSQL, Redis and issuer (as `npm run bench`); the service with the
 * Dockerfile's NODE_OPTIONS and `--inspect` on loopback. 16 connections: PROFILE_WARMUP (10000) calls first, not
 * profiled (the service needs about that many to reach its steady CPU per call, see bench/run.ts), then
 * PROFILE_SEC (20) seconds under V8's CPU profiler, started and stopped over the inspector protocol. The profile
 * (open it in Chrome DevTools) is summarised: self time by part of the request path, by package / app file and the
 * top functions, as shares of the busy (non-idle) samples; then PostgreSQL's statements per call of the lane.
 * Output: bench/results/profile-<lane>.txt and the profile beside it.
 *
 * PROFILE_ALLOC=1: where the service ALLOCATES instead (the garbage collector's work is proportional to it): V8's
 * sampling heap profiler, short-lived objects included, summarised as bytes per call by part of the request path,
 * by area and by function: bench/results/profile-<lane>-alloc.txt.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { BenchIdp } from './bench-idp.js';
import { freePort, imageNodeOptions, PgCluster, RedisServer } from './backing-services.js';
import { callBody, callHeaders, isSuccess, type Traffic } from './traffic.js';

const SECONDS = Number(process.env.PROFILE_SEC ?? 20);
const ALLOC = process.env.PROFILE_ALLOC === '1';
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 10_000);
const AGENT = 'bench-agent';
const OUT = resolve('bench/results');

type Lane = Traffic | 'counter';
const CALLS: Record<Lane, { traffic: Traffic; tool: string; args: Record<string, unknown> }> = {
  legacy: { traffic: 'legacy', tool: 'echo', args: { text: 'hello' } },
  modern: { traffic: 'modern', tool: 'echo', args: { text: 'hello' } },
  counter: { traffic: 'modern', tool: 'counter.increment', args: { name: 'hot' } },
};

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

async function profileLane(lane: Lane, pg: PgCluster, redisUrl: string, idp: BenchIdp): Promise<void> {
  const { traffic, tool, args } = CALLS[lane];
  const database = `profile_${lane}`;
  await pg.withClient('postgres', (c) => c.query(`CREATE DATABASE ${database}`));
  await pg.withClient(database, (c) => c.query('CREATE EXTENSION pg_stat_statements'));
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const dir = join(OUT, `profile-${lane}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'development',
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: 'info',
    DATABASE_URL: pg.databaseUrl(database),
    MIGRATIONS_RUN: 'true',
    REDIS_URL: redisUrl,
    AUTH_ISSUER: idp.issuer,
    AUTH_JWKS_URI: idp.jwksUri,
    RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
  };
  const cli = (script: string, args: string[]) =>
    execFileSync(process.execPath, [join('dist/src', script), ...args], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  cli('database/cli.js', ['run']);
  cli('permissions/grant.cli.js', ['--agent', AGENT, '--tool', tool]);
  const token = await idp.mint(AGENT, `${publicUrl}/mcp`, `tool:${tool}`);
  const inspectPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...imageNodeOptions().split(' ').filter(Boolean),
      `--inspect=127.0.0.1:${inspectPort}`,
      'dist/src/main.js',
    ],
    { env, stdio: ['ignore', 'ignore', 'ignore'] }, // --inspect announces itself on stderr
  );
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${publicUrl}/health/ready`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 300) throw new Error('the service did not come up');
    await sleep(100);
  }
  const load = (options: Partial<autocannon.Options>) =>
    autocannon({
      url: `${publicUrl}/mcp`,
      connections: 16,
      method: 'POST',
      headers: { ...callHeaders(traffic, tool), authorization: `Bearer ${token}` },
      body: callBody(traffic, tool, args),
      verifyBody: isSuccess,
      ...options,
    } as autocannon.Options);
  await load({ amount: WARMUP });
  await pg.withClient(database, (c) => c.query('SELECT pg_stat_statements_reset()'));
  const inspector = await Inspector.attach(inspectPort);
  await (ALLOC ? inspector.startAllocationSampling() : inspector.startCpuProfile());
  const result = await load({ duration: SECONDS });
  const profile = await (ALLOC ? inspector.stopAllocationSampling() : inspector.stopCpuProfile());
  inspector.close();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  const head =
    `${traffic} ${tool}, 16 connections, ${SECONDS} s after ${WARMUP} warm-up calls: ` +
    `${Math.round(result.requests.average)} req/s, ${errors} errors`;
  const file = join(dir, ALLOC ? 'alloc.heapprofile' : 'cpu.cpuprofile');
  writeFileSync(file, JSON.stringify(profile));
  const text = ALLOC
    ? `${head}\nprofile: ${file}\n\n${summariseAllocation(profile as { head: AllocationNode }, result.requests.total)}`
    : `${head}\nprofile: ${file}\n\n${summarise(profile as { nodes: ProfileNode[] })}\n` +
      (await statementsOf(pg, database, result.requests.total));
  writeFileSync(join(OUT, ALLOC ? `profile-${lane}-alloc.txt` : `profile-${lane}.txt`), text);
  console.log(text);
}

/**
 * PostgreSQL's side of the lane (pg_stat_statements, reset when the load starts): each statement's executions and
 * execution and planning per call of the lane, the top ones by execution time.
 */
async function statementsOf(pg: PgCluster, database: string, calls: number): Promise<string> {
  const { rows } = await pg.withClient(database, (c) =>
    c.query<{ query: string; calls: string; rows: string; ms: number; plans: string; planMs: number }>(
      `SELECT s.query, s.calls, s.rows, s.total_exec_time AS ms, s.plans, s.total_plan_time AS "planMs"
         FROM pg_stat_statements s
         JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 ORDER BY s.total_exec_time DESC LIMIT 8`,
      [database],
    ),
  );
  const lines = rows.map((r) => {
    const perCall = (n: number) => (n / calls).toFixed(3).padStart(7);
    const text = r.query.replace(/\s+/g, ' ').slice(0, 90);
    const us = (ms: number) => ((1000 * ms) / calls).toFixed(0).padStart(6);
    return `${perCall(Number(r.calls))} ${perCall(Number(r.rows))} ${us(r.ms)} ${perCall(Number(r.plans))} ${us(r.planMs)}  ${text}`;
  });
  return `PostgreSQL statements per lane call (executions, rows, µs executing, plannings, µs planning):\n${lines.join('\n')}\n`;
}

/** Self time by package (or app file) and by function, as a share of the samples that were not idle. */
function summarise(profile: { nodes: ProfileNode[] }): string {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const { callFrame, hitCount = 0 } of profile.nodes) {
    if (hitCount === 0 || callFrame.functionName === '(idle)') continue;
    busy += hitCount;
    const area = areaOf(callFrame.url, callFrame.functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + hitCount);
    const fn = `${area} ${callFrame.functionName || '(anonymous)'}:${callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hitCount);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  const byGroup = new Map<string, number>();
  for (const [area, hits] of byArea) byGroup.set(groupOf(area), (byGroup.get(groupOf(area)) ?? 0) + hits);
  return (
    `self time by part of the request path (% of busy samples):\n${top(byGroup, GROUPS.length + 1)}\n\n` +
    `self time by area:\n${top(byArea, 30)}\n\ntop functions:\n${top(byFunction, 30)}\n`
  );
}

interface AllocationNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: AllocationNode[];
}

/** The service's V8 profilers through the inspector protocol (Node 22's global WebSocket). */
class Inspector {
  private nextId = 1;
  private readonly waiting = new Map<number, (result: unknown) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.waiting.get(message.id)?.(message.result);
    });
  }

  static async attach(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await once(socket as unknown as EventTarget, 'open');
    return new Inspector(socket);
  }

  async startCpuProfile(): Promise<void> {
    await this.send('Profiler.enable');
    await this.send('Profiler.setSamplingInterval', { interval: 1000 }); // µs, as `--cpu-prof`
    await this.send('Profiler.start');
  }

  async stopCpuProfile(): Promise<unknown> {
    return ((await this.send('Profiler.stop')) as { profile: unknown }).profile;
  }

  async startAllocationSampling(): Promise<void> {
    await this.send('HeapProfiler.enable');
    // Every object counts, not only those still alive at the end: the scavenger's work is the short-lived ones.
    await this.send('HeapProfiler.startSampling', {
      samplingInterval: 8192,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }

  async stopAllocationSampling(): Promise<unknown> {
    return ((await this.send('HeapProfiler.stopSampling')) as { profile: unknown }).profile;
  }

  close(): void {
    this.socket.close();
  }

  private send(method: string, params: object = {}): Promise<unknown> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }
}

/** Sampled bytes allocated per lane call, by part of the request path, by area and by allocating function. */
function summariseAllocation(profile: { head: AllocationNode }, calls: number): string {
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const visit = (node: AllocationNode) => {
    const { url, functionName, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const area = areaOf(url, functionName);
      byArea.set(area, (byArea.get(area) ?? 0) + node.selfSize);
      const fn = `${area} ${functionName || '(anonymous)'}:${lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
    }
    node.children.forEach(visit);
  };
  visit(profile.head);
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${String(Math.round(v / calls)).padStart(7)} B  ${k}`)
      .join('\n');
  const byGroup = new Map<string, number>();
  for (const [area, bytes] of byArea) byGroup.set(groupOf(area), (byGroup.get(groupOf(area)) ?? 0) + bytes);
  return (
    `sampled allocation: ${Math.round(total / calls)} B per call\n\nby part of the request path:\n` +
    `${top(byGroup, GROUPS.length + 1)}\n\nby area:\n${top(byArea, 30)}\n\ntop functions:\n${top(byFunction, 40)}\n`
  );
}

/** The README's profile table: areas grouped by part of the request path (first match wins). */
const GROUPS: [string, RegExp][] = [
  ['socket writes (writev; string → buffer copies)', /^(writev|writeUtf8String|writeString|writeBuffer)$/],
  [
    'HTTP + NestJS (fastify, @nestjs, rxjs, node:http)',
    /^(fastify|@fastify\/|@nestjs\/|rxjs|find-my-way|reflect-metadata|node:_http)/,
  ],
  ['our code (request view, guards, pipeline, domain)', /^app /],
  [
    'SDK + zod (+ Web Request/streams)',
    /^(@modelcontextprotocol\/|zod|ajv|node:internal\/deps\/undici|node:internal\/webstreams)/,
  ],
  ['garbage collector', /^\(garbage collector\)$/],
  ['pg / ioredis drivers', /^(pg|pg-protocol|pg-pool|pg-types|ioredis|@ioredis\/|redis-)/],
  [
    'logging, hashing, metrics',
    /^(pino|@pinojs\/|sonic-boom|node:internal\/crypto|prom-client|@opentelemetry\/)/,
  ],
  ['start-up (module loading)', /^(node:internal\/modules|internalModuleStat|readFileUtf8|compileFunction)/],
];

function groupOf(area: string): string {
  return (
    GROUPS.find(([, pattern]) => pattern.test(area))?.[0] ?? 'runtime (microtasks, events, streams, native)'
  );
}

function areaOf(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const app = /\/dist\/src\/(.+)$/.exec(url);
  if (app) return `app ${app[1]}`;
  if (url.startsWith('node:')) return url;
  return url || functionName; // native: (garbage collector), writev, …
}

async function main(): Promise<void> {
  const lanes = (process.env.PROFILE_LANES ?? 'legacy,modern,counter').split(',') as Lane[];
  const pg = await PgCluster.start({ statements: true });
  const redis = await RedisServer.start();
  const idp = await BenchIdp.start();
  try {
    for (const [i, lane] of lanes.entries()) await profileLane(lane, pg, `${redis.url}/${i}`, idp);
  } finally {
    await idp.close();
    redis.stop();
    pg.stop();
  }
}

await main();
