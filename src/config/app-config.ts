import { join } from 'node:path';
import { z } from 'zod';
import { loadOrCreateDevStateKey, parseStateKey } from './request-state-key.js';

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

/** Asymmetric JWS algorithms an access token may use. `none` and HS* (shared secrets) are never accepted. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
const algorithmList = list.refine(
  (algs) => algs.length > 0 && algs.every((a) => (JWT_ALGORITHMS as readonly string[]).includes(a)),
  `must be a comma-separated list of ${JWT_ALGORITHMS.join(', ')} (none and HS* are never accepted)`,
);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  ALLOWED_ORIGINS: list.default([]),
  ALLOWED_HOSTS: list.optional(),
  // Slow clients (README "Timeouts"): a request's headers, then all of it (headers and body), must arrive in time;
  // an idle keep-alive connection is closed after the last one (later than a load balancer's idle timeout).
  HTTP_HEADERS_TIMEOUT_MS: int(100, 600_000).default(10_000),
  HTTP_BODY_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 3_600_000).default(72_000),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  MIGRATIONS_RUN: bool.optional(),
  DB_POOL_SIZE: int(1, 200).default(10),
  DB_PREPARED_STATEMENTS: bool.default(true),
  // Bounded waits on the database (README "Failure modes"): every statement, getting a connection, readiness.
  DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).optional(),
  DB_ACQUIRE_TIMEOUT_MS: int(100, 60_000).default(1000),
  HEALTH_TIMEOUT_MS: int(100, 60_000).default(700),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),

  // Which protocol eras /mcp serves; it replaced MCP_SESSION_MODE, which now stops the boot (see `loadConfig`).
  MCP_ERA: z.enum(['dual', 'modern', 'legacy']).default('dual'),
  MCP_SESSION_IDLE_TIMEOUT_MS: int(1000, 24 * 3600 * 1000).default(10 * 60 * 1000),
  MCP_SESSION_MAX: int(1, 1_000_000).default(1000),
  MCP_SSE_HEARTBEAT_MS: int(100, 600_000).default(15_000),
  TOOL_PACKS: list.optional(),
  // Input-required round trips: the HMAC key of `requestState` (checked in `requestStateConfig` below).
  MCP_REQUEST_STATE_KEY: z.string().optional(),
  MCP_REQUEST_STATE_KEY_PREVIOUS: z.string().optional(),
  MCP_REQUEST_STATE_TTL_SEC: int(10, 86400).default(600),

  // Authentication (OAuth 2.1 resource server). Cross-variable rules are checked in `authConfig` below.
  AUTH_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  AUTH_JWKS_URI: z.url({ protocol: /^https?$/ }).optional(),
  AUTH_AUDIENCE: list.optional(),
  AUTH_ALGORITHMS: algorithmList.default(['RS256', 'ES256', 'PS256']),
  AUTH_CLOCK_TOLERANCE_SEC: int(0, 60).default(30),
  AUTH_REQUIRE_AT_JWT: bool.default(true),
  AUTH_AGENT_CLAIM: z
    .string()
    .regex(/^[A-Za-z_][\w.:-]{0,63}$/, 'must be a claim name')
    .default('sub'),
  // Claims holding scopes (a space-separated string or an array each); Entra app-only tokens need `roles`.
  AUTH_SCOPE_CLAIMS: list
    .refine(
      (names) => names.length > 0 && names.every((name) => /^[A-Za-z_][\w.:-]{0,63}$/.test(name)),
      'must be a comma-separated list of claim names',
    )
    .default(['scope', 'scp']),
  AUTH_JWKS_COOLDOWN_SEC: int(0, 3600).default(30),
  // IdP outage policy: every JWKS fetch is bounded by the timeout; the last good keys stay in use this long.
  AUTH_JWKS_TIMEOUT_MS: int(100, 10_000).default(2000),
  AUTH_JWKS_STALE_MAX_SEC: int(60, 30 * 24 * 3600).default(24 * 3600),
  // Admin console sign-in with AUTH_ISSUER (README "Operate"): its public client at the IdP, the scopes it asks for.
  ADMIN_CONSOLE_CLIENT_ID: z
    .string()
    .regex(/^[\x21-\x7E]{1,256}$/, 'must be a client id (printable ASCII, no spaces)')
    .optional(),
  ADMIN_CONSOLE_SCOPE: z
    .string()
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'must be space-separated scopes')
    .default('mcp:admin mcp:admin:read'),

  // A key's UTF-8 form must fit a btree index entry (~2.7 kB), hence the cap of 512 characters.
  STATE_MAX_KEY_LENGTH: int(1, 512).default(256),
  STATE_MAX_VALUE_BYTES: int(16, 16 * 1024 * 1024).default(64 * 1024),
  STATE_MAX_KEYS_PER_AGENT: int(1, 100_000_000).default(10_000),
  IDEMPOTENCY_TTL_SECONDS: int(60, 30 * 24 * 3600).default(24 * 3600),
  IDEMPOTENCY_WAIT_MS: int(0, 60_000).default(5000),
  IDEMPOTENCY_LEASE_SECONDS: int(1, 24 * 3600).default(300),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 120_000).default(0),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(25_000),

  // Resilience: rate limits, circuit breakers, retries, timeouts (see README "Resilience").
  RATE_LIMIT_AGENT_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_TOOL_PER_MINUTE: int(1, 1_000_000).optional(),
  RATE_LIMIT_REDIS_FAILURE: z.enum(['open', 'closed']).default('open'),
  // Calls one agent may have in flight at once, per replica; default: half of DB_POOL_SIZE (see `loadConfig`).
  RATE_LIMIT_AGENT_CONCURRENT: int(1, 100_000).optional(),
  TOOL_TIMEOUT_MS: int(10, 3_600_000).default(30_000),
  BREAKER_FAILURES: int(1, 10_000).default(5),
  BREAKER_HALF_OPEN_AFTER_MS: int(10, 3_600_000).default(30_000),
  BREAKER_MIN_AGENTS: int(1, 1000).default(2),
  RETRY_MAX_ATTEMPTS: int(1, 20).default(3),
  RETRY_BASE_DELAY_MS: int(1, 60_000).default(100),
  RETRY_MAX_DELAY_MS: int(1, 600_000).default(2_000),
  RETRY_MAX_ELAPSED_MS: int(1, 3_600_000).default(10_000),

  AUDIT_ENABLED: bool.default(true),
  AUDIT_RAW_ARGUMENTS: bool.default(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('mcp-production'),
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
    /** Bounds on receiving a request (Node `headersTimeout`, `requestTimeout`) and on an idle keep-alive connection. */
    timeouts: { headersMs: number; bodyMs: number; keepAliveMs: number };
  };
  abstract readonly database: {
    url: string | undefined;
    dataDir: string;
    migrationsRun: boolean;
    poolSize: number;
    /** Hot-path statements as named prepared statements (ignored on the embedded database). */
    preparedStatements: boolean;
    /** Server-side `statement_timeout` of every pooled connection (PGlite ignores it). */
    statementTimeoutMs: number;
    /** Client-side bound on waiting for any answer to a statement; past it the connection is destroyed. */
    answerTimeoutMs: number;
    /** Longest wait for a pooled connection (`connectionTimeoutMillis`: a free slot, or a new connection). */
    acquireTimeoutMs: number;
  };
  abstract readonly redisUrl: string | undefined;
  /** Access-token validation. See README "Security model". */
  abstract readonly auth: {
    /** `external`: tokens of `AUTH_ISSUER`; `dev`: tokens signed by the local dev key (never in production). */
    mode: 'external' | 'dev';
    /** Exact `iss` accepted (also the PRM `authorization_servers` entry). Dev: `$PUBLIC_URL/dev-auth`. */
    issuer: string;
    /** JWKS location; undefined → read `jwks_uri` from the issuer's discovery document. */
    jwksUri: string | undefined;
    /** Accepted `aud` values (default: the resource identifier). */
    audiences: string[];
    algorithms: JwtAlgorithm[];
    clockToleranceSec: number;
    /** Require header `typ: at+jwt` (RFC 9068). */
    requireAtJwt: boolean;
    /** Claim naming the agent (default `sub`). */
    agentClaim: string;
    /** Claims whose values are the token's scopes (default `scope`, `scp`). */
    scopeClaims: string[];
    /** Least time between two JWKS fetches triggered by an unknown `kid`. */
    jwksCooldownSec: number;
    /** Bound on one JWKS fetch (discovery included). */
    jwksTimeoutMs: number;
    /** How long the last successfully fetched JWKS keeps verifying tokens while the IdP cannot be reached. */
    jwksStaleMaxSec: number;
    /** Where dev auth keeps its key pair (`$DATA_DIR/dev-auth`). */
    devKeyDir: string;
  };
  /** The admin console at `/admin/console/`: how it signs in when `auth.mode` is `external`. */
  abstract readonly console: {
    /** Its public OAuth client id at AUTH_ISSUER (authorization code + PKCE); unset: no IdP sign-in. */
    clientId: string | undefined;
    /** The scopes it asks for (the IdP grants each operator theirs). */
    scope: string;
  };
  abstract readonly mcp: {
    /** `dual`: 2026-07-28 requests sessionless, 2025 clients on the legacy lane; or one era only. */
    era: 'dual' | 'modern' | 'legacy';
    sessionIdleTimeoutMs: number;
    sessionMax: number;
    /** Interval of the SSE comment lines that keep an event stream (and every proxy on its way) from going idle. */
    sseHeartbeatMs: number;
    toolPacks: string[] | undefined;
    /** The `requestState` of input-required round trips (src/tools/request-state.ts). */
    requestState: {
      /** HMAC keys: the current one (signs and verifies) first, then the previous one (verifies only). */
      keys: Buffer[];
      /** How long a round's state stays valid. */
      ttlSec: number;
    };
  };
  abstract readonly logLevel: Env['LOG_LEVEL'];
  abstract readonly shutdown: { drainDelayMs: number; graceMs: number };
  /** `/health/ready` answers within `timeoutMs` (503 when its checks do not finish in time). */
  abstract readonly health: { timeoutMs: number };
  /** Rate limits, circuit breakers, retries and timeouts of tool calls (decorator options override per tool). */
  abstract readonly resilience: {
    /** `tools/call` requests per agent per minute, all tools together. */
    agentPerMinute: number;
    /** `tools/call` requests per agent per tool per minute; undefined = no per-tool limit unless a tool sets one. */
    toolPerMinute: number | undefined;
    /** What the limiter does when Redis cannot be reached: `open` lets calls through, `closed` refuses them. */
    redisFailure: 'open' | 'closed';
    /** Calls (`tools/call`, `resources/read`, `prompts/get`) one agent may have in flight at once on a replica. */
    agentConcurrent: number;
    /** Default per-call time budget of a tool (retries included). */
    toolTimeoutMs: number;
    breakerFailures: number;
    breakerHalfOpenAfterMs: number;
    /** Distinct agents whose failures it takes to open a breaker (one agent's count at most ⌈N / this⌉ of N). */
    breakerMinAgents: number;
    retryMaxAttempts: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    retryMaxElapsedMs: number;
  };
  /** Limits of per-agent state (`ctx.state`, the `state.*` tools). */
  abstract readonly state: {
    /** Longest key, in characters (Unicode code points). */
    maxKeyLength: number;
    /** Largest value, in UTF-8 bytes of its JSON text. */
    maxValueBytes: number;
    /** Keys one agent may hold (checked when a key is created). */
    maxKeysPerAgent: number;
  };
  /** Idempotency keys on `tools/call` (`_meta["mcp-production/idempotency-key"]`). */
  abstract readonly idempotency: {
    /** How long a key is remembered (and its result replayed). */
    ttlSeconds: number;
    /** How long a duplicate waits for the first call to finish before `IDEMPOTENCY_IN_PROGRESS`. */
    waitMs: number;
    /** After this long an unfinished claim (its server died mid-call) may be taken over by a retry. */
    leaseSeconds: number;
  };
  abstract readonly audit: {
    /** Write the audit trail (default true). Off only for throwaway development setups. */
    enabled: boolean;
    /** Store raw tool arguments in `detail.arguments` (default false: only sizes and a SHA-256). */
    rawArguments: boolean;
  };
  abstract readonly telemetry: {
    /** OTLP/HTTP base URL of a trace collector; tracing is off when unset. */
    otlpEndpoint: string | undefined;
    serviceName: string;
  };
}

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  const raw = Object.fromEntries(Object.entries(source).map(([k, v]) => [k, emptyAsUndefined(v)]));
  if (raw.MCP_SESSION_MODE !== undefined) {
    throw new ConfigError([
      'MCP_SESSION_MODE was replaced by MCP_ERA (dual | modern | legacy): clients that initialize always get a session',
    ]);
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const env = parsed.data;
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_BODY_TIMEOUT_MS) {
    // Node refuses it too: the headers are part of the request whose receipt HTTP_BODY_TIMEOUT_MS bounds.
    throw new ConfigError(['HTTP_HEADERS_TIMEOUT_MS: must not be greater than HTTP_BODY_TIMEOUT_MS']);
  }
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  const publicHost = new URL(publicUrl).hostname;
  const auth = authConfig(env, publicUrl);
  const requestState = requestStateConfig(env);
  // Half a tool call's budget (at most 5 s): a request that first waits DB_ACQUIRE_TIMEOUT_MS for a connection and
  // then for a statement still answers within TOOL_TIMEOUT_MS + 1 s (README "Failure modes").
  const statementTimeoutMs =
    env.DB_STATEMENT_TIMEOUT_MS ?? Math.max(100, Math.min(5000, Math.floor(env.TOOL_TIMEOUT_MS / 2)));
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
      timeouts: {
        headersMs: env.HTTP_HEADERS_TIMEOUT_MS,
        bodyMs: env.HTTP_BODY_TIMEOUT_MS,
        keepAliveMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      },
    },
    database: {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      // The embedded database is private to this process, so it is always migrated at boot.
      migrationsRun: env.MIGRATIONS_RUN ?? !env.DATABASE_URL,
      poolSize: env.DB_POOL_SIZE,
      preparedStatements: env.DB_PREPARED_STATEMENTS,
      statementTimeoutMs,
      // Past the statement timeout, the server's own cancel should have answered: allow it this long to arrive.
      answerTimeoutMs: statementTimeoutMs + 500,
      acquireTimeoutMs: env.DB_ACQUIRE_TIMEOUT_MS,
    },
    redisUrl: env.REDIS_URL,
    auth,
    console: { clientId: env.ADMIN_CONSOLE_CLIENT_ID, scope: env.ADMIN_CONSOLE_SCOPE },
    mcp: {
      era: env.MCP_ERA,
      sessionIdleTimeoutMs: env.MCP_SESSION_IDLE_TIMEOUT_MS,
      sessionMax: env.MCP_SESSION_MAX,
      sseHeartbeatMs: env.MCP_SSE_HEARTBEAT_MS,
      toolPacks: env.TOOL_PACKS,
      requestState,
    },
    logLevel: env.LOG_LEVEL,
    shutdown: { drainDelayMs: env.SHUTDOWN_DRAIN_DELAY_MS, graceMs: env.SHUTDOWN_GRACE_MS },
    health: { timeoutMs: env.HEALTH_TIMEOUT_MS },
    resilience: {
      agentPerMinute: env.RATE_LIMIT_AGENT_PER_MINUTE,
      toolPerMinute: env.RATE_LIMIT_TOOL_PER_MINUTE,
      redisFailure: env.RATE_LIMIT_REDIS_FAILURE,
      // Half the pool: one agent's calls, each holding or waiting for a connection, never starve the others.
      agentConcurrent: env.RATE_LIMIT_AGENT_CONCURRENT ?? Math.max(1, Math.floor(env.DB_POOL_SIZE / 2)),
      toolTimeoutMs: env.TOOL_TIMEOUT_MS,
      breakerFailures: env.BREAKER_FAILURES,
      breakerHalfOpenAfterMs: env.BREAKER_HALF_OPEN_AFTER_MS,
      breakerMinAgents: env.BREAKER_MIN_AGENTS,
      retryMaxAttempts: env.RETRY_MAX_ATTEMPTS,
      retryBaseDelayMs: env.RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: env.RETRY_MAX_DELAY_MS,
      retryMaxElapsedMs: env.RETRY_MAX_ELAPSED_MS,
    },
    state: {
      maxKeyLength: env.STATE_MAX_KEY_LENGTH,
      maxValueBytes: env.STATE_MAX_VALUE_BYTES,
      maxKeysPerAgent: env.STATE_MAX_KEYS_PER_AGENT,
    },
    idempotency: {
      ttlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
      waitMs: env.IDEMPOTENCY_WAIT_MS,
      leaseSeconds: env.IDEMPOTENCY_LEASE_SECONDS,
    },
    audit: { enabled: env.AUDIT_ENABLED, rawArguments: env.AUDIT_RAW_ARGUMENTS },
    telemetry: {
      otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, ''),
      serviceName: env.OTEL_SERVICE_NAME,
    },
  };
}

/** The `auth` namespace, with the rules that span several variables. */
function authConfig(env: Env, publicUrl: string): AppConfig['auth'] {
  const issues: string[] = [];
  const production = env.NODE_ENV === 'production';
  if (!env.AUTH_ISSUER && production) {
    issues.push(
      'AUTH_ISSUER: required when NODE_ENV=production (the issuer URL of your identity provider); ' +
        'dev auth (no AUTH_ISSUER) is for development only',
    );
  }
  if (env.AUTH_JWKS_URI && !env.AUTH_ISSUER) {
    issues.push('AUTH_JWKS_URI: needs AUTH_ISSUER (dev auth serves its own keys)');
  }
  for (const name of ['AUTH_ISSUER', 'AUTH_JWKS_URI'] as const) {
    // Keys fetched over plain HTTP could be swapped in transit: production talks to the IdP over TLS only.
    if (production && env[name]?.toLowerCase().startsWith('http:')) {
      issues.push(`${name}: must be an https URL when NODE_ENV=production`);
    }
  }
  if (issues.length) throw new ConfigError(issues);
  const resource = `${publicUrl}/mcp`;
  return {
    mode: env.AUTH_ISSUER ? 'external' : 'dev',
    // Compared byte for byte with `iss`: never normalised (Auth0 issuers end with a slash, others do not).
    issuer: env.AUTH_ISSUER ?? `${publicUrl}/dev-auth`,
    jwksUri: env.AUTH_ISSUER ? env.AUTH_JWKS_URI : `${publicUrl}/dev-auth/jwks.json`,
    audiences: env.AUTH_AUDIENCE?.length ? env.AUTH_AUDIENCE : [resource],
    algorithms: env.AUTH_ALGORITHMS as JwtAlgorithm[],
    clockToleranceSec: env.AUTH_CLOCK_TOLERANCE_SEC,
    requireAtJwt: env.AUTH_REQUIRE_AT_JWT,
    agentClaim: env.AUTH_AGENT_CLAIM,
    scopeClaims: env.AUTH_SCOPE_CLAIMS,
    jwksCooldownSec: env.AUTH_JWKS_COOLDOWN_SEC,
    jwksTimeoutMs: env.AUTH_JWKS_TIMEOUT_MS,
    jwksStaleMaxSec: env.AUTH_JWKS_STALE_MAX_SEC,
    devKeyDir: join(env.DATA_DIR, 'dev-auth'),
  };
}

/**
 * The `requestState` keys. Production needs MCP_REQUEST_STATE_KEY (replicas must share it); elsewhere a key of
 * its own in DATA_DIR is made on first use (lazily: loading the configuration writes nothing).
 */
function requestStateConfig(env: Env): AppConfig['mcp']['requestState'] {
  const issues: string[] = [];
  const keyOf = (name: 'MCP_REQUEST_STATE_KEY' | 'MCP_REQUEST_STATE_KEY_PREVIOUS') => {
    const value = env[name];
    const key = value === undefined ? undefined : parseStateKey(value);
    if (typeof key === 'string') issues.push(`${name}: ${key}`);
    return typeof key === 'string' ? undefined : key;
  };
  const current = keyOf('MCP_REQUEST_STATE_KEY');
  const previous = keyOf('MCP_REQUEST_STATE_KEY_PREVIOUS');
  if (env.MCP_REQUEST_STATE_KEY === undefined && env.NODE_ENV === 'production') {
    issues.push(
      'MCP_REQUEST_STATE_KEY: required when NODE_ENV=production (at least 32 bytes, the same on every replica; ' +
        'e.g. base64:$(openssl rand -base64 32))',
    );
  }
  if (env.MCP_REQUEST_STATE_KEY_PREVIOUS !== undefined && env.MCP_REQUEST_STATE_KEY === undefined) {
    issues.push('MCP_REQUEST_STATE_KEY_PREVIOUS: needs MCP_REQUEST_STATE_KEY (the key that replaces it)');
  }
  if (issues.length) throw new ConfigError(issues);
  const ttlSec = env.MCP_REQUEST_STATE_TTL_SEC;
  if (current) return { keys: previous ? [current, previous] : [current], ttlSec };
  let devKeys: Buffer[] | undefined;
  return {
    get keys() {
      return (devKeys ??= [loadOrCreateDevStateKey(env.DATA_DIR)]);
    },
    ttlSec,
  };
}
