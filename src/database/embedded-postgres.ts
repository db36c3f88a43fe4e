import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded default (ARCHITECTURE §3): PostgreSQL compiled to WASM, persisted under `DATA_DIR`, served on a
 * loopback port so that TypeORM uses the ordinary `pg` driver and the very same migrations as production.
 * One developer, one process: two processes must never open the same data directory.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    readonly url: string,
  ) {}

  static async start(dataDir: string, maxConnections = 20): Promise<EmbeddedPostgres> {
    const dir = resolve(dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
    const db = await PGlite.create(dir);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
    await server.start();
    // getServerConn() is "host:port"; the socket server accepts any user/database name.
    return new EmbeddedPostgres(db, server, `postgresql://postgres@${server.getServerConn()}/postgres`);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
  }
}
