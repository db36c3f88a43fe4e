import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';

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

/**
 * A new DATA_DIR. For the embedded default (`database` undefined) it is seeded with a copy of an initialised, empty,
 * unmigrated PGlite cluster: PGlite's initdb costs ~4 s of WASM per directory and the suite boots ~150 of them.
 * Migrations still run on every boot; tests of a first boot on an empty directory make their own (mkdtemp).
 * The template is made once per machine and PGlite version, under a name that appears only when it is complete.
 */
export async function newDataDir(prefix: string, database: string | undefined): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  if (database === undefined) await cp(await pgliteTemplate(), join(dataDir, 'pglite'), { recursive: true });
  return dataDir;
}

let template: Promise<string> | undefined;
function pgliteTemplate(): Promise<string> {
  return (template ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite'); // package.json is not exported
    const pkg = join(entry.slice(0, entry.lastIndexOf('/pglite/') + 8), 'package.json');
    const { version } = JSON.parse(await readFile(pkg, 'utf8')) as { version: string };
    const path = join(tmpdir(), `mcp-test-pglite-${version}`);
    if (existsSync(path)) return path;
    const scratch = await mkdtemp(join(tmpdir(), 'mcp-test-pglite-init-'));
    await (await EmbeddedPostgres.start(scratch)).stop();
    // Another process may have won the race: its template is as good as ours.
    await rename(join(scratch, 'pglite'), path).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
    return path;
  })());
}
