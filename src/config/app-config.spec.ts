import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      resource: 'http://localhost:3000/mcp',
    });
    expect(config.database).toMatchObject({ url: undefined, dataDir: './data', migrationsRun: true });
    expect(config.mcp.era).toBe('dual');
    expect(config.mcp.requestState.ttlSec).toBe(600);
    expect(config.mcp.toolPacks).toBeUndefined();
  });

  it('does not migrate an external database at boot unless asked', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://db/app' }).database.migrationsRun).toBe(false);
    expect(
      loadConfig({ DATABASE_URL: 'postgres://db/app', MIGRATIONS_RUN: 'true' }).database.migrationsRun,
    ).toBe(true);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://db/app'],
    ['PUBLIC_URL', 'not a url'],
    ['MCP_ERA', 'stateless'],
    ['MCP_REQUEST_STATE_TTL_SEC', '5'],
    ['MCP_REQUEST_STATE_TTL_SEC', '86401'],
    ['LOG_LEVEL', 'loud'],
    ['MIGRATIONS_RUN', 'yes'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });

  it('derives the resource identifier from PUBLIC_URL without a trailing slash', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://mcp.example.com/' });
    expect(config.http.resource).toBe('https://mcp.example.com/mcp');
    expect(config.http.allowedHosts).toContain('mcp.example.com');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).http.port).toBe(3000);
  });

  it('limits state and idempotency keys, with documented defaults', () => {
    expect(loadConfig({}).state).toEqual({
      maxKeyLength: 256,
      maxValueBytes: 65536,
      maxKeysPerAgent: 10_000,
    });
    expect(loadConfig({}).idempotency).toEqual({ ttlSeconds: 86400, waitMs: 5000, leaseSeconds: 300 });
    expect(
      loadConfig({
        STATE_MAX_KEY_LENGTH: '64',
        STATE_MAX_KEYS_PER_AGENT: '50',
        IDEMPOTENCY_TTL_SECONDS: '600',
      }),
    ).toMatchObject({
      state: { maxKeyLength: 64, maxKeysPerAgent: 50 },
      idempotency: { ttlSeconds: 600 },
    });
    // Keys must fit a btree index entry; a TTL under a minute is a mistake.
    for (const [name, value] of [
      ['STATE_MAX_KEY_LENGTH', '513'],
      ['STATE_MAX_VALUE_BYTES', '8'],
      ['STATE_MAX_KEYS_PER_AGENT', '0'],
      ['IDEMPOTENCY_TTL_SECONDS', '10'],
      ['IDEMPOTENCY_LEASE_SECONDS', '0'],
    ])
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });

  it('caps calls in flight per agent at half the pool by default, and opens breakers on two agents', () => {
    expect(loadConfig({}).resilience).toMatchObject({ agentConcurrent: 5, breakerMinAgents: 2 });
    expect(loadConfig({ DB_POOL_SIZE: '1' }).resilience.agentConcurrent).toBe(1);
    expect(
      loadConfig({ DB_POOL_SIZE: '40', RATE_LIMIT_AGENT_CONCURRENT: '3', BREAKER_MIN_AGENTS: '1' })
        .resilience,
    ).toMatchObject({ agentConcurrent: 3, breakerMinAgents: 1 });
    for (const [name, value] of [
      ['RATE_LIMIT_AGENT_CONCURRENT', '0'],
      ['BREAKER_MIN_AGENTS', '0'],
    ])
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });

  it('bounds slow clients with documented HTTP timeouts, and SSE heartbeats', () => {
    expect(loadConfig({}).http.timeouts).toEqual({ headersMs: 10_000, bodyMs: 30_000, keepAliveMs: 72_000 });
    expect(loadConfig({}).mcp.sseHeartbeatMs).toBe(15_000);
    expect(
      loadConfig({
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_BODY_TIMEOUT_MS: '3000',
        MCP_SSE_HEARTBEAT_MS: '500',
      }),
    ).toMatchObject({ http: { timeouts: { headersMs: 2000, bodyMs: 3000 } }, mcp: { sseHeartbeatMs: 500 } });
    // Unbounded (0) is what let slow clients hold connections; headers are part of the request the body bounds.
    for (const [name, value] of [
      ['HTTP_BODY_TIMEOUT_MS', '0'],
      ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '0'],
      ['MCP_SSE_HEARTBEAT_MS', '0'],
    ])
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_BODY_TIMEOUT_MS: '10000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: must not be greater than HTTP_BODY_TIMEOUT_MS/,
    );
  });

  it('bounds every wait on the database, by default within a tool call budget + 1 s', () => {
    expect(loadConfig({}).database).toMatchObject({
      statementTimeoutMs: 5000,
      answerTimeoutMs: 5500,
      acquireTimeoutMs: 1000,
    });
    expect(loadConfig({}).health).toEqual({ timeoutMs: 700 });
    // Half the budget: waiting for a connection, then for a statement, still fits in TOOL_TIMEOUT_MS + 1 s.
    expect(loadConfig({ TOOL_TIMEOUT_MS: '2000' }).database).toMatchObject({
      statementTimeoutMs: 1000,
      answerTimeoutMs: 1500,
    });
    expect(
      loadConfig({ TOOL_TIMEOUT_MS: '2000', DB_STATEMENT_TIMEOUT_MS: '250', DB_ACQUIRE_TIMEOUT_MS: '300' })
        .database,
    ).toMatchObject({ statementTimeoutMs: 250, answerTimeoutMs: 750, acquireTimeoutMs: 300 });
    for (const [name, value] of [
      ['DB_STATEMENT_TIMEOUT_MS', '0'],
      ['DB_ACQUIRE_TIMEOUT_MS', '0'],
      ['HEALTH_TIMEOUT_MS', '0'],
    ])
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });

  it.each(['stateless', 'stateful', 'anything'])(
    'refuses MCP_SESSION_MODE=%s, naming its replacement MCP_ERA',
    (value) => {
      expect(() => loadConfig({ MCP_SESSION_MODE: value })).toThrow(
        new ConfigError([
          'MCP_SESSION_MODE was replaced by MCP_ERA (dual | modern | legacy): clients that initialize always get a session',
        ]),
      );
    },
  );

  it('selects one protocol era with MCP_ERA', () => {
    for (const era of ['dual', 'modern', 'legacy'] as const)
      expect(loadConfig({ MCP_ERA: era }).mcp.era).toBe(era);
  });
});

describe('loadConfig: the requestState key', () => {
  const KEY = 'k'.repeat(32);
  const BASE64_KEY = Buffer.alloc(48, 7);

  it('takes MCP_REQUEST_STATE_KEY as raw text or base64:, the previous key after it', () => {
    expect(
      loadConfig({ MCP_REQUEST_STATE_KEY: KEY, MCP_REQUEST_STATE_TTL_SEC: '60' }).mcp.requestState,
    ).toEqual({
      keys: [Buffer.from(KEY)],
      ttlSec: 60,
    });
    const rotated = loadConfig({
      MCP_REQUEST_STATE_KEY: `base64:${BASE64_KEY.toString('base64')}`,
      MCP_REQUEST_STATE_KEY_PREVIOUS: `base64:${Buffer.from(KEY).toString('base64url')}`,
    });
    expect(rotated.mcp.requestState.keys).toEqual([BASE64_KEY, Buffer.from(KEY)]);
  });

  it.each([
    ['MCP_REQUEST_STATE_KEY', 'k'.repeat(31), /must be at least 32 bytes \(got 31\)/],
    ['MCP_REQUEST_STATE_KEY', `base64:${Buffer.alloc(31).toString('base64')}`, /must be at least 32 bytes/],
    ['MCP_REQUEST_STATE_KEY', 'base64:not base64!', /is not base64/],
    ['MCP_REQUEST_STATE_KEY_PREVIOUS', 'short', /must be at least 32 bytes/],
  ])('refuses %s=%s, naming the variable and never echoing the key', (name, value, reason) => {
    const env = { MCP_REQUEST_STATE_KEY: KEY, [name]: value };
    expect(() => loadConfig(env)).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}: `));
    expect(() => loadConfig(env)).toThrow(reason);
    expect(() => loadConfig(env)).not.toThrow(value);
  });

  it('refuses a previous key without a current one', () => {
    expect(() => loadConfig({ MCP_REQUEST_STATE_KEY_PREVIOUS: KEY })).toThrow(
      /MCP_REQUEST_STATE_KEY_PREVIOUS: needs MCP_REQUEST_STATE_KEY/,
    );
  });

  it('is required in production, where every replica must share it', () => {
    const production = { NODE_ENV: 'production', AUTH_ISSUER: 'https://idp.example.com/' };
    expect(() => loadConfig(production)).toThrow(
      /^Invalid configuration:\n {2}MCP_REQUEST_STATE_KEY: required when NODE_ENV=production/,
    );
    expect(loadConfig({ ...production, MCP_REQUEST_STATE_KEY: KEY }).mcp.requestState.keys).toHaveLength(1);
  });

  describe('without one, outside production', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'state-key-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('makes a random 32-byte key in DATA_DIR on first use (mode 0600), kept across restarts', async () => {
      const dataDir = join(dir, 'data');
      const config = loadConfig({ DATA_DIR: dataDir });
      expect(await readdir(dir)).toEqual([]); // loading the configuration writes nothing
      const [key] = config.mcp.requestState.keys;
      expect(key).toHaveLength(32);
      expect(config.mcp.requestState.keys).toEqual([key]);
      const file = join(dataDir, 'request-state.key');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await readFile(file, 'utf8')).trim()).toBe(`base64:${key.toString('base64')}`);
      expect(await readdir(dataDir)).toEqual(['request-state.key']); // no temporary file left behind
      expect(loadConfig({ DATA_DIR: dataDir }).mcp.requestState.keys).toEqual([key]);
      expect(loadConfig({ DATA_DIR: join(dir, 'other') }).mcp.requestState.keys[0]).not.toEqual(key);
    });

    it('refuses a key file it cannot use, naming the file', async () => {
      await writeFile(join(dir, 'request-state.key'), 'base64:AAAA\n');
      expect(() => loadConfig({ DATA_DIR: dir }).mcp.requestState.keys).toThrow(
        /request-state\.key must be at least 32 bytes .*delete it to make a new one/,
      );
    });
  });
});
