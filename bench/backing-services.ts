/**
 * The bench's own PostgreSQL cluster and Redis (never the machine's 5432 / 6379): initdb into a temp dir, a free
 * loopback port, PostgreSQL's durable defaults (fsync, synchronous_commit on: the service is measured with every
 * increment durable); `redis-server` without persistence. Both stopped by PID at the end.
 * Pattern copied from test/fault/harness.ts (bench code does not import test code).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function kill(pid: number | undefined): void {
  try {
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function pgBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return join('/usr/lib/postgresql', versions.at(-1) ?? '', 'bin');
}

/** initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user. */
function asPostgres(command: string, args: string[]): string {
  const bin = join(pgBin(), command);
  const [file, argv] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(file, argv, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export class PgCluster {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** `statements`: also load pg_stat_statements (bench:profile reports where PostgreSQL's time goes). */
  static async start({ statements = false } = {}): Promise<PgCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-bench-pg-'));
    if (process.getuid?.() === 0) {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
      chownSync(dir, id('-u'), id('-g'));
    }
    const cluster = new PgCluster(dir, await freePort());
    const data = join(dir, 'data');
    asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${cluster.port}`,
        `unix_socket_directories = ''`,
        'max_connections = 200',
        ...(statements
          ? [`shared_preload_libraries = 'pg_stat_statements'`, 'pg_stat_statements.track_planning = on']
          : []),
      ].join('\n') + '\n',
    );
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
    return cluster;
  }

  /** The postmaster's PID (first line of postmaster.pid). */
  get pid(): number {
    return Number(readFileSync(join(this.dir, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
  }

  version(): string {
    return asPostgres('postgres', ['--version']).trim();
  }

  async withClient<T>(database: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.databaseUrl(database) });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  databaseUrl(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Fast shutdown, then the postmaster killed by PID if still there; deletes the data. */
  stop(): void {
    let pid: number | undefined;
    try {
      pid = this.pid;
      asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', '-t', '20', 'stop']);
    } catch {
      kill(pid);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RedisServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mcp-bench-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = spawn('redis-server', [...args, '--dir', dir], { stdio: 'ignore' });
    const redis = new RedisServer(child, port, dir);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (redis.ping()) return redis;
      await sleep(100);
    }
    redis.stop();
    throw new Error(`redis-server on ${port} did not start`);
  }

  private ping(): boolean {
    try {
      return (
        execFileSync('redis-cli', ['-p', String(this.port), 'ping'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'], // "connection refused" while it starts
        }).trim() === 'PONG'
      );
    } catch {
      return false;
    }
  }

  version(): string {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2] ?? 'unknown';
  }

  stop(): void {
    kill(this.child.pid);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `ENV NODE_OPTIONS=…` of the Dockerfile (quotes removed): the service is measured as it is deployed. */
export function imageNodeOptions(): string {
  const value = /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1].trim() ?? '';
  return value.replace(/^"(.*)"$/, '$1');
}
