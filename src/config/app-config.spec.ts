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
    expect(config.mcp.sessionMode).toBe('stateless');
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
    ['MCP_SESSION_MODE', 'sticky'],
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
});
