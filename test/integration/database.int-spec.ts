import { DataSource } from 'typeorm';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { startApp } from '../utils/app.js';
import { databaseKind, serverUrl } from '../utils/database.js';
import { TcpProxy } from '../utils/tcp-proxy.js';

describe(`database (${databaseKind})`, () => {
  it('keeps its data across a stop and a start of the service', async () => {
    const first = await startApp();
    await first.app.get(DataSource).query(`CREATE TABLE restart_probe (id int PRIMARY KEY, note text)`);
    await first.app.get(DataSource).query(`INSERT INTO restart_probe VALUES (1, 'survives')`);
    await first.stop();

    const second = await startApp({ reuse: first });
    try {
      const rows: unknown[] = await second.app.get(DataSource).query(`SELECT note FROM restart_probe`);
      expect(rows).toEqual([{ note: 'survives' }]);
    } finally {
      await second.close();
    }
  });

  it('reports not ready (503) while the database is unreachable and ready again when it returns', async () => {
    // The app reaches the database through a proxy we can cut: the outage is real at the socket level.
    const embedded = serverUrl ? undefined : await EmbeddedPostgres.start(await tmp(), 10);
    const target = new URL(serverUrl ?? embedded!.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const app = await startApp({ env: { DATABASE_URL: viaProxy.toString(), MIGRATIONS_RUN: 'true' } });
    try {
      const ready = () => fetch(`${app.baseUrl}/health/ready`);
      expect((await ready()).status).toBe(200);

      await proxy.stop();
      const down = await ready();
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
      expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);

      await proxy.start(proxy.port);
      expect(await eventually(async () => (await ready()).status, 200)).toBe(200);
    } finally {
      await app.close();
      await proxy.stop();
      await embedded?.stop();
    }
  });
});

/** Retries `probe` (pools reconnect lazily) until it yields `want` or 10 s pass; returns the last value. */
async function eventually<T>(probe: () => Promise<T>, want: T): Promise<T> {
  let last = await probe();
  for (let i = 0; i < 50 && last !== want; i++) {
    await new Promise((r) => setTimeout(r, 200));
    last = await probe();
  }
  return last;
}

async function tmp(): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  return mkdtemp(join(tmpdir(), 'mcp-embedded-'));
}
