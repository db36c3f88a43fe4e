import { z } from 'zod';

/**
 * The one place that reads the environment. Every variable is validated here at boot; a bad value stops the
 * process with a message naming the variable (see `ConfigError`). The rest of the app injects `AppConfig`.
 */

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  ALLOWED_ORIGINS: list.default([]),
  ALLOWED_HOSTS: list.optional(),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  MIGRATIONS_RUN: bool.optional(),
  DB_POOL_SIZE: int(1, 200).default(10),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),

  MCP_SESSION_MODE: z.enum(['stateless', 'stateful']).default('stateless'),
  MCP_SESSION_IDLE_TIMEOUT_MS: int(1000, 24 * 3600 * 1000).default(10 * 60 * 1000),
  MCP_SESSION_MAX: int(1, 1_000_000).default(1000),
  TOOL_PACKS: list.optional(),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Typed, validated configuration, grouped by concern. Injected by class token. */
export abstract class AppConfig {
  abstract readonly env: Env['NODE_ENV'];
  abstract readonly http: {
    port: number;
    host: string;
    publicUrl: string;
    /** The OAuth resource identifier of the MCP endpoint (`$PUBLIC_URL/mcp`). */
    resource: string;
    bodyLimit: number;
    allowedOrigins: string[];
    allowedHosts: string[];
  };
  abstract readonly database: {
    url: string | undefined;
    dataDir: string;
    migrationsRun: boolean;
    poolSize: number;
  };
  abstract readonly redisUrl: string | undefined;
  abstract readonly mcp: {
    sessionMode: 'stateless' | 'stateful';
    sessionIdleTimeoutMs: number;
    sessionMax: number;
    toolPacks: string[] | undefined;
  };
  abstract readonly logLevel: Env['LOG_LEVEL'];
}

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  const raw = Object.fromEntries(Object.entries(source).map(([k, v]) => [k, emptyAsUndefined(v)]));
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const env = parsed.data;
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  const publicHost = new URL(publicUrl).hostname;
  return {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      publicUrl,
      resource: `${publicUrl}/mcp`,
      bodyLimit: env.BODY_LIMIT_BYTES,
      allowedOrigins: env.ALLOWED_ORIGINS,
      // Hostnames (port ignored). Loopback names are always allowed by default: local clients use them.
      allowedHosts: env.ALLOWED_HOSTS ?? [publicHost, 'localhost', '127.0.0.1', '[::1]'],
    },
    database: {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      // The embedded database is private to this process, so it is always migrated at boot.
      migrationsRun: env.MIGRATIONS_RUN ?? !env.DATABASE_URL,
      poolSize: env.DB_POOL_SIZE,
    },
    redisUrl: env.REDIS_URL,
    mcp: {
      sessionMode: env.MCP_SESSION_MODE,
      sessionIdleTimeoutMs: env.MCP_SESSION_IDLE_TIMEOUT_MS,
      sessionMax: env.MCP_SESSION_MAX,
      toolPacks: env.TOOL_PACKS,
    },
    logLevel: env.LOG_LEVEL,
  };
}
