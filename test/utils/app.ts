import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory.js';
import { loadConfig } from '../../src/config/app-config.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp {
  app: NestFastifyApplication;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  mcpUrl: URL;
  env: Record<string, string>;
  /** Stops the app; the data stays (for restart tests). */
  stop(): Promise<void>;
  /** Stops the app and deletes its data. */
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse the data of an earlier app (restart tests). */
  reuse?: { env: Record<string, string>; database?: TestDatabase; dataDir?: string };
}

/** Boots the whole app on an ephemeral loopback port, on the embedded database or a fresh PostgreSQL one. */
export async function startApp(
  options: TestAppOptions = {},
): Promise<TestApp & { database: TestDatabase; dataDir: string }> {
  const database = options.reuse?.database ?? (await createTestDatabase());
  const dataDir = options.reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'mcp-test-')));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: dataDir,
    PORT: '0',
    ...(database.url && { DATABASE_URL: database.url, MIGRATIONS_RUN: 'true' }),
    ...options.reuse?.env,
    ...options.env,
  };
  const app = await createApp(loadConfig(env));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    app,
    baseUrl,
    mcpUrl: new URL('/mcp', baseUrl),
    env,
    database,
    dataDir,
    stop,
    close: async () => {
      await stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
