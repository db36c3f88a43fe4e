import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { serialiseExtendedProtocol } from './pglite-protocol.js';

describe('serialiseExtendedProtocol (embedded PGlite socket server)', () => {
  it('gives every concurrent parameterised query its own result, next to transactions', async () => {
    // A real in-memory PGlite behind the socket server, used by a `pg` pool as the app's TypeORM pool uses it.
    // Without the wrapper this fails: wrong rows, "portal does not exist", or answers that never come.
    const db = await PGlite.create();
    const server = new PGLiteSocketServer({
      db: serialiseExtendedProtocol(db),
      host: '127.0.0.1',
      port: 0,
      maxConnections: 12,
    });
    await server.start();
    const pool = new pg.Pool({
      connectionString: `postgresql://postgres@${server.getServerConn()}/postgres`,
      max: 8,
      query_timeout: 5000,
    });
    const problems: string[] = [];
    try {
      await pool.query('CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)');
      await pool.query('INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) g');
      const select = async (i: number) => {
        try {
          const { rows } = await pool.query<{ n: number }>('SELECT $1::int AS n', [i]);
          if (rows.length !== 1 || rows[0].n !== i) problems.push(`query ${i} got ${JSON.stringify(rows)}`);
        } catch (error) {
          problems.push(`query ${i} failed: ${(error as Error).message}`);
        }
      };
      const increment = async (i: number) => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query('UPDATE t SET v = v + 1 WHERE id = $1', [(i % 10) + 1]);
          await client.query('COMMIT');
        } catch (error) {
          problems.push(`transaction ${i} failed: ${(error as Error).message}`);
          await client.query('ROLLBACK').catch(() => {});
        } finally {
          client.release();
        }
      };
      for (let round = 0; round < 10; round++)
        await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 3 ? select(i) : increment(i))));
      const { rows } = await pool.query<{ s: number }>('SELECT sum(v)::int AS s FROM t');
      expect(rows[0].s).toBe(100);
    } finally {
      await pool.end();
      await server.stop();
      await db.close();
    }
    expect(problems).toEqual([]);
  });
});
