import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { serialiseExtendedProtocol } from './pglite-protocol.js';

/**
 * The embedded default (ARCHITECTURE §3): PostgreSQL compiled to WASM, persisted under `DATA_DIR`, served on a
 * loopback port so that TypeORM uses the ordinary `pg` driver and the very same migrations as production.
 * One process per data directory: a lock file refuses a second one (two would corrupt the files).
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lockFile: string,
    readonly url: string,
  ) {}

  static async start(dataDir: string, maxConnections = 20): Promise<EmbeddedPostgres> {
    const dir = resolve(dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
    const lockFile = resolve(dataDir, 'pglite.pid');
    await acquireLock(lockFile);
    try {
      const db = await PGlite.create(dir);
      const server = new PGLiteSocketServer({
        db: serialiseExtendedProtocol(db), // without it, concurrent queries can get each other's results
        host: '127.0.0.1',
        port: 0,
        maxConnections,
      });
      await server.start();
      // getServerConn() is "host:port"; the socket server accepts any user/database name.
      return new EmbeddedPostgres(
        db,
        server,
        lockFile,
        `postgresql://postgres@${server.getServerConn()}/postgres`,
      );
    } catch (error) {
      await rm(lockFile, { force: true });
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    await rm(this.lockFile, { force: true });
  }
}

async function acquireLock(lockFile: string): Promise<void> {
  const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
  if (holder && holder !== process.pid && isAlive(holder)) {
    throw new Error(
      `The embedded database in ${lockFile.replace(/pglite\.pid$/, '')} is in use by process ${holder}`,
    );
  }
  await writeFile(lockFile, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
