import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Tests run on the embedded database by default and on real PostgreSQL when `DATABASE_URL` is set. On
 * PostgreSQL each test file gets a database of its own (created here, dropped by `drop`).
 */
export interface TestDatabase {
  /** `DATABASE_URL` for the app under test, or undefined for the embedded default. */
  url: string | undefined;
  drop(): Promise<void>;
}

export const serverUrl = process.env.DATABASE_URL;
export const databaseKind = serverUrl ? 'postgres' : 'embedded';

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!serverUrl) return { url: undefined, drop: async () => {} };
  const name = `mcp_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function admin(run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}
