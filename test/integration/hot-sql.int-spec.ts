import { DataSource } from 'typeorm';
import { ToolGate } from '../../src/admission/tool-gate.js';
import type { Principal } from '../../src/common/principal.js';
import { HotSql } from '../../src/database/hot-sql.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/** One pooled connection, so that every statement below runs in the same server session. */
describe(`HotSql (${databaseKind})`, () => {
  let app: TestApp;
  let sql: HotSql;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp({ env: { DB_POOL_SIZE: '1' } });
    sql = app.app.get(HotSql);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  const preparedNames = async () =>
    (await db.query<{ name: string }[]>(`SELECT name FROM pg_prepared_statements ORDER BY name`)).map(
      (r) => r.name,
    );

  it('answers with the rows of the statement', async () => {
    expect(await sql.rows({ name: 'probe_sum', text: 'SELECT $1::int + $2::int AS n' }, [2, 3])).toEqual([
      { n: 5 },
    ]);
    expect(await sql.rows({ name: 'probe_sum', text: 'SELECT $1::int + $2::int AS n' }, [4, 5])).toEqual([
      { n: 9 },
    ]);
  });

  if (databaseKind === 'postgres') {
    it('plans each statement once per connection: the per-call gate read is never planned again', async () => {
      const gate = app.app.get(ToolGate);
      const principal = { agentId: 'plan-agent', scopes: [] } as unknown as Principal;
      for (let i = 0; i < 12; i++)
        await gate.readWithRevocation(`jti-${i}`, principal, { name: 'echo', version: '1.0.0' });
      // PostgreSQL's default would re-plan it for its parameters on every execution (custom plans).
      const [plans] = await db.query<{ generic_plans: string; custom_plans: string }[]>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'tool_gate_revocation'`,
      );
      expect(plans).toEqual({ generic_plans: '12', custom_plans: '0' });
    });

    it('prepares each statement once per connection on PostgreSQL, then falls back when names collide', async () => {
      expect(await preparedNames()).toContain('probe_sum');
      // Someone else's statement of the same name in our session (as on a shared pglite-socket).
      await db.query(`PREPARE probe_taken AS SELECT 1 AS n`);
      expect(await sql.rows({ name: 'probe_taken', text: 'SELECT 2 AS n' }, [])).toEqual([{ n: 2 }]);
      // From then on statements run plain: no new names appear.
      expect(await sql.rows({ name: 'probe_after', text: 'SELECT 3 AS n' }, [])).toEqual([{ n: 3 }]);
      expect(await preparedNames()).not.toContain('probe_after');
    });
  } else {
    it('runs plain statements on the embedded database (one session serves every connection)', async () => {
      expect(await preparedNames()).not.toContain('probe_sum');
    });
  }

  it('fails with the driver error and its SQLSTATE', async () => {
    await expect(sql.rows({ name: 'probe_bad', text: 'SELECT 1 / $1::int AS n' }, [0])).rejects.toMatchObject(
      {
        code: '22012',
      },
    );
  });
});
