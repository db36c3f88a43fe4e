import { ConfigError, loadConfig } from '../config/app-config.js';

const ISSUER = 'https://tenant.example.auth0.com/';

describe('auth configuration (AUTH_*)', () => {
  it('defaults to dev auth outside production, with the documented defaults', () => {
    const { auth } = loadConfig({ PUBLIC_URL: 'http://localhost:3000', DATA_DIR: '/tmp/d' });
    expect(auth).toEqual({
      mode: 'dev',
      issuer: 'http://localhost:3000/dev-auth',
      jwksUri: 'http://localhost:3000/dev-auth/jwks.json',
      audiences: ['http://localhost:3000/mcp'],
      algorithms: ['RS256', 'ES256', 'PS256'],
      clockToleranceSec: 30,
      requireAtJwt: true,
      agentClaim: 'sub',
      scopeClaims: ['scope', 'scp'],
      jwksCooldownSec: 30,
      jwksTimeoutMs: 2000,
      jwksStaleMaxSec: 86400,
      devKeyDir: '/tmp/d/dev-auth',
    });
  });

  it('uses an external issuer exactly as written (trailing slash kept) and the resource as audience', () => {
    const { auth } = loadConfig({ AUTH_ISSUER: ISSUER, PUBLIC_URL: 'https://mcp.example.com' });
    expect(auth).toMatchObject({
      mode: 'external',
      issuer: ISSUER,
      jwksUri: undefined,
      audiences: ['https://mcp.example.com/mcp'],
    });
  });

  it('reads every AUTH_* override', () => {
    const { auth } = loadConfig({
      AUTH_ISSUER: 'https://kc.example.com/realms/mcp',
      AUTH_JWKS_URI: 'https://kc.example.com/realms/mcp/protocol/openid-connect/certs',
      AUTH_AUDIENCE: 'api://mcp, https://mcp.example.com/mcp',
      AUTH_ALGORITHMS: 'RS256,PS512',
      AUTH_CLOCK_TOLERANCE_SEC: '5',
      AUTH_REQUIRE_AT_JWT: 'false',
      AUTH_AGENT_CLAIM: 'azp',
      AUTH_SCOPE_CLAIMS: 'scp, roles',
      AUTH_JWKS_COOLDOWN_SEC: '60',
      AUTH_JWKS_TIMEOUT_MS: '500',
      AUTH_JWKS_STALE_MAX_SEC: '3600',
    });
    expect(auth).toMatchObject({
      jwksUri: 'https://kc.example.com/realms/mcp/protocol/openid-connect/certs',
      audiences: ['api://mcp', 'https://mcp.example.com/mcp'],
      algorithms: ['RS256', 'PS512'],
      clockToleranceSec: 5,
      requireAtJwt: false,
      agentClaim: 'azp',
      scopeClaims: ['scp', 'roles'],
      jwksCooldownSec: 60,
      jwksTimeoutMs: 500,
      jwksStaleMaxSec: 3600,
    });
  });

  it('refuses to boot in production without AUTH_ISSUER, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /^Invalid configuration:\n {2}AUTH_ISSUER: required/,
    );
    const stateKey = 'k'.repeat(32); // production also needs MCP_REQUEST_STATE_KEY (app-config.spec.ts)
    expect(
      loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: ISSUER, MCP_REQUEST_STATE_KEY: stateKey }).auth.mode,
    ).toBe('external');
  });

  it('refuses plain-http IdP URLs in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: 'http://idp.internal' })).toThrow(
      /AUTH_ISSUER: must be an https URL/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', AUTH_ISSUER: ISSUER, AUTH_JWKS_URI: 'http://idp.internal/jwks' }),
    ).toThrow(/AUTH_JWKS_URI: must be an https URL/);
  });

  it('refuses AUTH_JWKS_URI without AUTH_ISSUER', () => {
    expect(() => loadConfig({ AUTH_JWKS_URI: 'https://idp/jwks' })).toThrow(
      /AUTH_JWKS_URI: needs AUTH_ISSUER/,
    );
  });

  it.each([
    ['AUTH_ALGORITHMS', 'none'],
    ['AUTH_ALGORITHMS', 'HS256'],
    ['AUTH_ALGORITHMS', 'RS256,HS512'],
    ['AUTH_ALGORITHMS', ','],
    ['AUTH_ISSUER', 'not a url'],
    ['AUTH_ISSUER', 'ftp://idp.example.com'],
    ['AUTH_CLOCK_TOLERANCE_SEC', '61'],
    ['AUTH_CLOCK_TOLERANCE_SEC', '-1'],
    ['AUTH_REQUIRE_AT_JWT', 'yes'],
    ['AUTH_AGENT_CLAIM', 'has space'],
    ['AUTH_SCOPE_CLAIMS', ','],
    ['AUTH_SCOPE_CLAIMS', 'scope,has space'],
    ['AUTH_JWKS_COOLDOWN_SEC', 'soon'],
    ['AUTH_JWKS_TIMEOUT_MS', '0'],
    ['AUTH_JWKS_TIMEOUT_MS', '60000'],
    ['AUTH_JWKS_STALE_MAX_SEC', '1'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });
});
