import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadOrCreateDevKey, mintDevToken } from '../../src/auth/dev-keys.js';
import { loadConfig } from '../../src/config/app-config.js';
import { freePort, ServerProcess } from '../utils/server-process.js';

/**
 * The fault-injection tier's harness (`npm run test:fault`, `jest.fault.config.js`): a throw-away PostgreSQL
 * cluster and Redis of its own (never the machine's 5432 / 6379), the built service as a child process on them,
 * plain-HTTP calls that record status, code and latency, a bounded load loop, and the audit / counter / log
 * checks every scenario shares. Every wait here is bounded.
 */

const run = promisify(execFile);

/** Sent inside tool arguments in every scenario; it must appear in no log line (issue #15, class 8). */
export const CANARY = 'canary-5f0c1e7a-must-never-be-logged';
/** Bound on any single HTTP exchange of the tier, so a hung service fails a check instead of hanging the tier. */
export const CLIENT_TIMEOUT_MS = 30_000;

/** One figure line per scenario, e.g. `fault: pg-stop acknowledged=812 audit=812 …` (stdout, not jest's console). */
export function figures(scenario: string, values: Record<string, unknown>): void {
  const text = Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v)}`)
    .join(' ');
  process.stdout.write(`fault: ${scenario} ${text}\n`);
}

/** Resolves `promise`, or rejects after `ms` (cleanup steps must not hang the tier either). */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it is true; returns the elapsed ms, or undefined after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await sleep(everyMs);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL: a cluster of our own

/** The PostgreSQL binaries: FAULT_PG_BIN, else the newest version under /usr/lib/postgresql (Debian layout). */
function pgBin(): string {
  if (process.env.FAULT_PG_BIN) return process.env.FAULT_PG_BIN;
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return join('/usr/lib/postgresql', versions.at(-1) ?? '', 'bin');
}
const asRoot = process.getuid?.() === 0;
/** Processes the tier started, killed on an abrupt exit so nothing outlives the run. */
const orphans = new Set<number>();
process.on('exit', () => {
  for (const pid of orphans) signal(pid, 'SIGKILL');
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user. */
function asPostgres(command: string, args: string[]) {
  const bin = join(pgBin(), command);
  return asRoot
    ? run('runuser', ['-u', 'postgres', '--', bin, ...args], { timeout: 60_000 })
    : run(bin, args, { timeout: 60_000 });
}

/**
 * A throw-away PostgreSQL cluster (initdb in a temp dir, loopback only, a free port, fsync off) that a scenario
 * may stop, start, freeze (SIGSTOP the postmaster and every backend: a partition without reset) and thaw.
 */
export class PgCluster {
  private frozen: number[] = [];

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** Superuser URL of the cluster's `postgres` database. */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  static async start(): Promise<PgCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'fault-pg-'));
    if (asRoot) {
      const uid = Number((await run('id', ['-u', 'postgres'])).stdout);
      const gid = Number((await run('id', ['-g', 'postgres'])).stdout);
      await chown(dir, uid, gid);
    }
    const cluster = new PgCluster(dir, await freePort());
    await asPostgres('initdb', ['-D', cluster.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    await appendFile(
      join(cluster.data, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${cluster.port}`,
        `unix_socket_directories = ''`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 200',
      ].join('\n') + '\n',
    );
    await cluster.startServer();
    return cluster;
  }

  /** The postmaster's PID (first line of postmaster.pid), or undefined when it is not running. */
  async pid(): Promise<number | undefined> {
    const text = await readFile(join(this.data, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    return pid > 0 ? pid : undefined;
  }

  /** Starts the stopped cluster and resolves once it accepts connections. */
  async startServer(): Promise<void> {
    await asPostgres('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '30',
      'start',
    ]);
    const pid = await this.pid();
    if (pid) orphans.add(pid);
  }

  /** Fast shutdown (backends terminated, connections cut); resolves once the cluster is down. */
  async stopServer(): Promise<void> {
    const pid = await this.pid();
    await asPostgres('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    if (pid) orphans.delete(pid);
  }

  /** SIGSTOP the postmaster first (it forks no more), then every child it has. Returns how many were stopped. */
  async freeze(): Promise<number> {
    const postmaster = await this.pid();
    if (!postmaster) throw new Error('freeze: the cluster is not running');
    signal(postmaster, 'SIGSTOP');
    this.frozen = [postmaster, ...(await children(postmaster))];
    for (const pid of this.frozen) signal(pid, 'SIGSTOP');
    return this.frozen.length;
  }

  /** SIGCONT everything `freeze` stopped (and any child, in case one was missed). */
  async thaw(): Promise<void> {
    const postmaster = await this.pid();
    const pids = new Set([...this.frozen, ...(postmaster ? await children(postmaster) : [])]);
    for (const pid of pids) signal(pid, 'SIGCONT');
    this.frozen = [];
  }

  /** A superuser client on database `database` of this cluster (the caller ends it). */
  async client(databaseUrl = this.url): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
    await client.connect();
    return client;
  }

  /** Leaves the cluster running (thawed, started) whatever a failed scenario left it in. */
  async recover(): Promise<void> {
    await this.thaw();
    if (!(await this.pid())) await this.startServer();
  }

  /** Immediate shutdown, then the postmaster and its children killed by PID if still there; deletes the data. */
  async dispose(): Promise<void> {
    await this.thaw().catch(() => {});
    const pid = await this.pid();
    await asPostgres('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', '-t', '10', 'stop']).catch(
      () => {},
    );
    if (pid) {
      for (const child of await children(pid)) signal(child, 'SIGKILL');
      signal(pid, 'SIGKILL');
      orphans.delete(pid);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function children(pid: number): Promise<number[]> {
  const out = await run('pgrep', ['-P', String(pid)]).then(
    (r) => r.stdout,
    () => '', // exit code 1: no children
  );
  return out.split('\n').filter(Boolean).map(Number);
}

// ---------------------------------------------------------------------------------------------------------------
// Redis: a server of our own

/** A throw-away `redis-server` (no persistence) on a free loopback port; kill and restart it on the same port. */
export class RedisServer {
  private child?: ChildProcess;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const redis = new RedisServer(await mkdtemp(join(tmpdir(), 'fault-redis-')), await freePort());
    await redis.restart();
    return redis;
  }

  /** Starts the server (again) and resolves once it answers PING. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = spawn('redis-server', [...args, '--dir', this.dir], { stdio: 'ignore' });
    this.child = child;
    if (child.pid) orphans.add(child.pid);
    if ((await waitFor(() => this.cli('ping').then((r) => r === 'PONG'), 10_000)) === undefined)
      throw new Error(`redis-server on ${this.port} did not start`);
  }

  /** SIGKILL by PID; resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await within(10_000, exited, 'redis exit');
    if (child.pid) orphans.delete(child.pid);
  }

  /** Number of keys (the service's rate-limit counters), or -1 when the server does not answer. */
  async dbsize(): Promise<number> {
    const answer = await this.cli('dbsize');
    return /^\d+$/.test(answer) ? Number(answer) : -1;
  }

  async dispose(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  private cli(command: string): Promise<string> {
    return run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), command], { timeout: 2000 }).then(
      (r) => r.stdout.trim(),
      () => '',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The service under test, and calls to it

/** One HTTP exchange as the client saw it. `status` 0 = no HTTP answer (`error` says why). */
export interface Answer {
  requestId: string;
  /** Date.now() when the request was sent, and how long until the whole body was read. */
  startedAt: number;
  ms: number;
  status: number;
  /** A success: 200 with no JSON-RPC error and no tool error (`isError`). */
  ok: boolean;
  /** The stable error code: tool error, JSON-RPC `data.code`, or the REST body's `code`. */
  code?: string;
  retryAfter: string | null;
  body?: unknown;
  /** Network-level failure (`ECONNREFUSED`, `ECONNRESET`, `TimeoutError`…). */
  error?: string;
}

export interface ServiceOptions {
  agent: string;
  /** Tools granted to `agent` (and in its token's scopes). */
  tools: string[];
  env?: Record<string, string>;
  /** Mints the bearer token for scopes (default: dev auth, the key in the service's DATA_DIR). */
  token?: (scopes: string[]) => Promise<string>;
}

let requestCounter = 0;

/** The built service (`dist/src/main.js`) as a child process on the tier's own cluster, with its output kept. */
export class FaultService {
  private callerToken = '';
  private adminToken = '';

  private constructor(
    readonly server: ServerProcess,
    readonly agent: string,
  ) {}

  /** Prepared (database, grants) and started; LOG_LEVEL=info: the canary check sees what a production log has. */
  static async start(cluster: PgCluster, options: ServiceOptions): Promise<FaultService> {
    const server = await ServerProcess.prepare(
      options.agent,
      options.tools,
      { LOG_LEVEL: 'info', ...options.env },
      cluster.url,
    );
    const service = new FaultService(server, options.agent);
    const token = options.token ?? (await devTokens(server, options.agent));
    service.callerToken = await token(options.tools.map((tool) => `tool:${tool}`));
    service.adminToken = await token(['mcp:admin']);
    // A service that does not become ready is killed here: the scenario's afterAll never sees it.
    await server.start(120_000).catch(async (error: unknown) => {
      await server.dispose();
      throw error;
    });
    return service;
  }

  get baseUrl(): string {
    return this.server.baseUrl;
  }

  /** The caller's bearer token (for raw-socket clients). */
  get token(): string {
    return this.callerToken;
  }

  /** The service's own database on the tier's cluster. */
  get databaseUrl(): string {
    return this.server.env.DATABASE_URL;
  }

  /** Still running (no crash). */
  get alive(): boolean {
    return this.server.running;
  }

  /** Sends `signal`; resolves with the exit code once the service has exited. */
  stop(signal: NodeJS.Signals): Promise<number | null> {
    return this.server.stop(signal);
  }

  /** Everything the service wrote to stdout/stderr so far. */
  get output(): string {
    return this.server.output;
  }

  /** `tools/call` of `name`; `token` overrides the caller's token. */
  callTool(name: string, args: Record<string, unknown>, token = this.callerToken): Promise<Answer> {
    return this.post('tools/call', { name, arguments: args }, token);
  }

  listTools(): Promise<Answer> {
    return this.post('tools/list', {}, this.callerToken);
  }

  /** GET an /admin path with the admin token. */
  admin(path: string): Promise<Answer> {
    return this.request(path, { headers: { authorization: `Bearer ${this.adminToken}` } });
  }

  ready(timeoutMs = CLIENT_TIMEOUT_MS): Promise<Answer> {
    return this.request('/health/ready', {}, timeoutMs);
  }

  private post(method: string, params: Record<string, unknown>, token: string): Promise<Answer> {
    return this.request('/mcp', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
  }

  private async request(path: string, init: RequestInit, timeoutMs = CLIENT_TIMEOUT_MS): Promise<Answer> {
    const requestId = `fault-${process.pid}-${++requestCounter}`;
    const startedAt = Date.now();
    const headers = { ...(init.headers as Record<string, string>), 'x-request-id': requestId };
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (e.g. a plain-text proxy answer): kept as text
      }
      const { failed, code } = outcomeOf(body);
      return {
        requestId,
        startedAt,
        ms: Date.now() - startedAt,
        status: res.status,
        ok: res.status === 200 && !failed,
        code,
        retryAfter: res.headers.get('retry-after'),
        body,
      };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return {
        requestId,
        startedAt,
        ms: Date.now() - startedAt,
        status: 0,
        ok: false,
        retryAfter: null,
        error: cause?.code ?? (error as Error).name,
      };
    }
  }

  /**
   * Kills the service and drops its database (the cluster must be up: call `cluster.recover()` first). With
   * FAULT_LOG_DIR set, the service's output is kept there as `<agent>.log` (to read after a failed run).
   */
  async dispose(): Promise<void> {
    const dir = process.env.FAULT_LOG_DIR;
    if (dir) await writeFile(join(dir, `${this.agent}.log`), this.output);
    await within(30_000, this.server.dispose(), 'service dispose');
  }
}

async function devTokens(server: ServerProcess, agent: string) {
  const config = loadConfig(server.env);
  const key = await loadOrCreateDevKey(config.auth.devKeyDir);
  return (scopes: string[]) => mintDevToken(config.auth, key, { agent, scopes, ttlSeconds: 3600 });
}

interface RpcBody {
  error?: { data?: { code?: string } };
  result?: { isError?: boolean; _meta?: Record<string, unknown> };
  code?: string;
}

function outcomeOf(body: unknown): { failed: boolean; code?: string } {
  if (typeof body !== 'object' || body === null) return { failed: false };
  const b = body as RpcBody;
  if (b.error) return { failed: true, code: b.error.data?.code };
  if (b.result?.isError)
    return { failed: true, code: b.result._meta?.['mcp-production/error-code'] as string };
  return { failed: false, code: b.code };
}

// ---------------------------------------------------------------------------------------------------------------
// Load, probes and the shared checks

export type Op = 'echo' | 'counter' | 'list' | 'admin' | 'state';

/** What one load worker does next: echo (canary in its text) and counter.increment alternate by default. */
export async function operation(service: FaultService, op: Op): Promise<Answer> {
  switch (op) {
    case 'echo':
      return service.callTool('echo', { text: `${CANARY} ${requestCounter}` });
    case 'counter':
      return service.callTool('counter.increment', {});
    case 'state':
      return service.callTool('state.set', { key: 'fault/canary', value: { note: CANARY } });
    case 'list':
      return service.listTools();
    case 'admin':
      return service.admin('/admin/audit?limit=1');
  }
}

export interface LoadRecord extends Answer {
  op: Op;
}

/**
 * `workers` concurrent loops, each cycling through `ops`, until `stop()` (or `maxMs`, a safety bound). Every
 * answer is recorded with its operation.
 */
export function startLoad(service: FaultService, ops: Op[], workers: number, maxMs = 120_000) {
  const records: LoadRecord[] = [];
  let stopped = false;
  const started = Date.now();
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; !stopped && Date.now() - started < maxMs; i++) {
      const op = ops[i % ops.length];
      records.push({ op, ...(await operation(service, op)) });
    }
  });
  return {
    records,
    /** Stops the loops and resolves once every call in flight has its answer. */
    async stop(): Promise<LoadRecord[]> {
      stopped = true;
      await Promise.all(loops);
      return records;
    },
  };
}

/** /health/ready polled every `everyMs` (each probe bounded by `timeoutMs`), every answer recorded. */
export function startReadinessProbe(service: FaultService, everyMs = 100, timeoutMs = 5000) {
  const probes: Answer[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      probes.push(await service.ready(timeoutMs));
      await sleep(everyMs);
    }
  })();
  return {
    probes,
    /** ms from `since` until the first probe sent after it that answered `status` (undefined: none did). */
    firstAfter(since: number, status: number): number | undefined {
      const probe = probes.find((p) => p.startedAt >= since && p.status === status);
      return probe && probe.startedAt + probe.ms - since;
    },
    async stop(): Promise<Answer[]> {
      stopped = true;
      await loop;
      return probes;
    },
  };
}

/** Request ids of the audit rows (of `kinds`, and `outcome` if given) in the service's database, with their count. */
export async function auditedRequestIds(
  cluster: PgCluster,
  service: FaultService,
  kinds = ['tool_call', 'admin'],
  outcome?: string,
): Promise<Map<string, number>> {
  const client = await cluster.client(service.databaseUrl);
  try {
    const { rows } = await client.query<{ request_id: string; n: string }>(
      `SELECT request_id, count(*) AS n FROM audit_event
        WHERE kind = ANY($1) AND request_id IS NOT NULL AND ($2::text IS NULL OR outcome = $2) GROUP BY 1`,
      [kinds, outcome ?? null],
    );
    return new Map(rows.map((r) => [r.request_id, Number(r.n)]));
  } finally {
    await client.end();
  }
}

/**
 * Acknowledged calls that have no audit row. The service may commit rows shortly after answering (group commit
 * flushes in the background), so this re-reads for up to `settleMs` before giving up.
 */
export async function unaudited(
  cluster: PgCluster,
  service: FaultService,
  acknowledged: Answer[],
  settleMs = 5000,
): Promise<{ missing: string[]; audited: number; rows: Map<string, number> }> {
  let rows = new Map<string, number>();
  let missing: string[] = [];
  await waitFor(
    async () => {
      rows = await auditedRequestIds(cluster, service);
      missing = acknowledged.map((a) => a.requestId).filter((id) => !rows.has(id));
      return missing.length === 0;
    },
    settleMs,
    500,
  );
  return { missing, audited: acknowledged.length - missing.length, rows };
}

/** The value of the agent's `counter.increment` counter `default` in the service's database (0 if never set). */
export async function counterValue(cluster: PgCluster, service: FaultService): Promise<number> {
  const client = await cluster.client(service.databaseUrl);
  try {
    const { rows } = await client.query<{ value: number }>(
      `SELECT value FROM agent_state WHERE agent_id = $1 AND key = 'counter/default'`,
      [service.agent],
    );
    return rows.length ? Number(rows[0].value) : 0;
  } finally {
    await client.end();
  }
}

/**
 * The counter invariant of issue #15 §5: acknowledged ≤ counter − `base` ≤ acknowledged + OUTCOME_UNKNOWN answers,
 * `base` being the counter's value before `records` were made.
 */
export async function counterCheck(
  cluster: PgCluster,
  service: FaultService,
  records: LoadRecord[],
  base = 0,
) {
  const increments = records.filter((r) => r.op === 'counter');
  const acknowledged = increments.filter((r) => r.ok).length;
  const unknown = increments.filter((r) => r.code === 'OUTCOME_UNKNOWN').length;
  // Calls that lost the race with an outage may still be finishing inside the service: let them settle.
  let counter = 0;
  await waitFor(
    async () => (counter = (await counterValue(cluster, service)) - base) >= acknowledged,
    3000,
    500,
  );
  return {
    acknowledged,
    unknown,
    counter,
    holds: acknowledged <= counter && counter <= acknowledged + unknown,
  };
}

/** Log lines (one JSON object each from pino; anything else counts too) in `output`. */
export function logLines(output: string): string[] {
  return output.split('\n').filter((line) => line.trim() !== '');
}

/** Lines at warn or above (pino level ≥ 40), and any line that is not a pino JSON line (e.g. a raw stack trace). */
export function problemLines(output: string): string[] {
  return logLines(output).filter((line) => {
    try {
      return ((JSON.parse(line) as { level?: number }).level ?? 100) >= 40;
    } catch {
      return true;
    }
  });
}

/** A stack trace in a line: pino's `"stack"` field, or V8's "    at fn (file:line)" frames, escaped or raw. */
export function hasStackTrace(line: string): boolean {
  return /"stack"\s*:|(\\n|^)\s+at \S/.test(line);
}

/** Log lines that contain the canary (must be none). */
export function canaryLines(output: string): string[] {
  return logLines(output).filter((line) => line.includes(CANARY));
}

/** The names of the criteria that do not hold (the scenario asserts this list is empty, so a failure names all). */
export function violated(criteria: Record<string, boolean>): string[] {
  return Object.entries(criteria)
    .filter(([, holds]) => !holds)
    .map(([name]) => name);
}

/** Largest value, or 0 for none. */
export function max(values: number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

/** A count of answers by `status/code`, for the figures (e.g. `200:412,503/AUDIT_UNAVAILABLE:3`). */
export function tally(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key = a.ok ? 'ok' : `${a.status || a.error}${a.code ? `/${a.code}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}:${n}`).join(',') || 'none';
}
