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
/**
 * A real PostgreSQL server even when the suite runs on the embedded default, for what only a server does (e.g.
 * LISTEN/NOTIFY between processes). The machine's PostgreSQL unless DATABASE_URL or TEST_POSTGRES_URL says otherwise.
 */
export const postgresUrl =
  serverUrl ?? process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A database of its own on `server` (default: DATABASE_URL; none = the embedded default). */
export async function createTestDatabase(server = serverUrl): Promise<TestDatabase> {
  if (!server) return { url: undefined, drop: async () => {} };
  const name = `mcp_test_${randomBytes(6).toString('hex')}`;
  await admin(server, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(server, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function admin(server: string, run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}
