import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built server (`node dist/src/main.js`) as a child process: for crash, signal and restart tests. */
export class ServerProcess {
  private child?: ChildProcess;
  output = '';

  constructor(
    readonly env: Record<string, string>,
    readonly baseUrl: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
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
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
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
