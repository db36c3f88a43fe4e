import type { Server } from 'node:http';
import { rm } from 'node:fs/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory.js';
import { AppConfig, loadConfig } from '../../src/config/app-config.js';
import { PermissionsService } from '../../src/permissions/permissions.service.js';
import { createTestDatabase, newDataDir, type TestDatabase } from './database.js';
import { TestIdp } from './idp.js';

/**
 * The public URL every test app is configured with (tests listen on an ephemeral port, so the default
 * `http://localhost:$PORT` would be `http://localhost:0`). The resource identifier (token audience) is
 * `${TEST_PUBLIC_URL}/mcp`, and this is the origin the Origin guard accepts.
 */
export const TEST_PUBLIC_URL = 'http://localhost:3999';

export interface TestApp {
  app: NestFastifyApplication;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  mcpUrl: URL;
  env: Record<string, string>;
  /** The IdP this app trusts (AUTH_ISSUER / AUTH_JWKS_URI point at it). */
  idp: TestIdp;
  /** `{ authorization: 'Bearer <token>' }`: a valid access token of `idp` for this app's resource. */
  bearer(agentId: string, scopes: string[]): Promise<Record<string, string>>;
  /** Grants `agentId` the right to call `toolName` (through the real PermissionsService). */
  grant(
    agentId: string,
    toolName: string,
    options?: { toolVersion?: string; expiresAt?: Date },
  ): Promise<void>;
  /** Stops the app; the data stays (for restart tests). */
  stop(): Promise<void>;
  /** Stops the app and deletes its data. */
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse the data of an earlier app (restart tests), and its IdP when it has one. */
  reuse?: { env: Record<string, string>; database?: TestDatabase; dataDir?: string; idp?: TestIdp };
  /** Trust this IdP (the caller closes it) instead of starting one for this app. */
  idp?: TestIdp;
}

/** Boots the whole app on an ephemeral loopback port, on the embedded database or a fresh PostgreSQL one. */
export async function startApp(
  options: TestAppOptions = {},
): Promise<TestApp & { database: TestDatabase; dataDir: string }> {
  const database = options.reuse?.database ?? (await createTestDatabase());
  const dataDir = options.reuse?.dataDir ?? (await newDataDir('mcp-test-', database.url));
  const ownIdp = !options.idp;
  const idp = options.idp ?? options.reuse?.idp ?? (await TestIdp.start());
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: dataDir,
    PORT: '0',
    PUBLIC_URL: TEST_PUBLIC_URL,
    ...(database.url && { DATABASE_URL: database.url, MIGRATIONS_RUN: 'true' }),
    ...options.reuse?.env,
    AUTH_ISSUER: idp.issuer,
    AUTH_JWKS_URI: idp.jwksUri,
    // Tests rotate keys at will: refetch the JWKS on every unknown kid (production waits 30 s between fetches).
    AUTH_JWKS_COOLDOWN_SEC: '0',
    // Tests fire bursts of concurrent calls from one agent; the in-flight cap's own tests set it low.
    RATE_LIMIT_AGENT_CONCURRENT: '10000',
    ...options.env,
  };
  let app: NestFastifyApplication;
  try {
    app = await createApp(loadConfig(env));
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    // A refused boot (e.g. a ConfigError) leaves nothing behind.
    if (ownIdp) await idp.close();
    if (!options.reuse) {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
    throw error;
  }
  const config = app.get(AppConfig);
  idp.audience ??= config.auth.audiences[0];
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // A close that is still waiting after 20 s (a CI run once timed out here, not reproducible since): say what
    // is still open, then end the HTTP connections so the suite goes on and the rest of the close can finish.
    const server: Server = app.getHttpServer();
    const watchdog = setTimeout(() => {
      server.getConnections((_err, connections) =>
        console.error('app.close() still waiting after 20 s', {
          connections,
          resources: process.getActiveResourcesInfo(),
        }),
      );
      server.closeAllConnections();
    }, 20_000).unref();
    try {
      await app.close();
    } finally {
      clearTimeout(watchdog);
    }
  };
  return {
    app,
    baseUrl,
    mcpUrl: new URL('/mcp', baseUrl),
    env,
    database,
    dataDir,
    stop,
    idp,
    bearer: async (agentId, scopes) => {
      const token = await idp.mint(
        { sub: agentId, [config.auth.agentClaim]: agentId, scope: scopes.join(' ') },
        { audience: config.auth.audiences[0] },
      );
      return { authorization: `Bearer ${token}` };
    },
    grant: async (agentId, toolName, options = {}) => {
      await app.get(PermissionsService).grant({ agentId, toolName, grantedBy: 'test', ...options });
    },
    close: async () => {
      await stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
      if (ownIdp) await idp.close();
    },
  };
}
