import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, newDataDir } from './database.js';

const run = promisify(execFile);

/** The built server (`node dist/src/main.js`) as a child process: for crash, signal and restart tests. */
export class ServerProcess {
  private child?: ChildProcess;
  output = '';

  constructor(
    readonly env: Record<string, string>,
    readonly baseUrl: string,
    private readonly cleanup: () => Promise<void> = async () => {},
  ) {}

  /**
   * A built server on a fresh database (PostgreSQL when DATABASE_URL is set, else embedded in its own DATA_DIR)
   * on a free loopback port, with dev auth, and `agent` granted `tools` (through the ops CLI, before the server
   * owns the embedded database). Not started yet.
   */
  static async prepare(
    agent: string,
    tools: string[],
    extraEnv: Record<string, string> = {},
    /** PostgreSQL server to create the database on (default: DATABASE_URL, else embedded); the fault tier's own. */
    databaseServer?: string,
  ): Promise<ServerProcess> {
    await buildIfStale();
    const database = await createTestDatabase(databaseServer);
    const dataDir = await newDataDir('mcp-server-', database.url);
    const baseUrl = `http://127.0.0.1:${await freePort()}`;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: new URL(baseUrl).port,
      PUBLIC_URL: baseUrl,
      DATA_DIR: dataDir,
      RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
      // Load tests drive one agent with many connections; the in-flight cap has its own tests.
      RATE_LIMIT_AGENT_CONCURRENT: '10000',
      ...(database.url && { DATABASE_URL: database.url, MIGRATIONS_RUN: 'true' }),
      ...extraEnv,
    };
    const grants = tools.flatMap((tool) => ['--tool', tool]);
    await run(process.execPath, ['dist/src/permissions/grant.cli.js', '--agent', agent, ...grants], { env });
    return new ServerProcess(env, baseUrl, async () => {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    });
  }

  /** Kills the server and deletes its database and data. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await this.cleanup();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Started and not exited (neither by itself nor by a signal). */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server and waits until /health/ready answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${this.output}`);
      const ready = await fetch(`${this.baseUrl}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`server not ready after ${timeoutMs} ms:\n${this.output}`);
  }

  /** Sends `signal` and resolves with the exit code once the process has exited. */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    // Exited already: by itself (exitCode) or by a signal (signalCode).
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Tests that run the built server (re)build it when any source is newer than dist/src/main.js. */
export async function buildIfStale(): Promise<void> {
  const built = await stat('dist/src/main.js').then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const newest = Math.max(await newestMtime('src'), await newestMtime('migrations'));
  if (newest > built) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { timeout: 240_000 });
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
    }
  }
  return newest;
}
