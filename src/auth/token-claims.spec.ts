import { TokenRejectedError } from './auth.errors.js';
import { normalizeAudience, principalFromClaims } from './token-claims.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const policy = {
  audiences: [RESOURCE],
  agentClaim: 'sub',
  scopeClaims: ['scope', 'scp'],
  clockToleranceSec: 30,
};
const now = Math.floor(Date.now() / 1000);
const exp = now + 300;
const valid = {
  iss: 'https://idp',
  aud: RESOURCE,
  sub: 'alice',
  client_id: 'app',
  jti: 'j1',
  iat: now,
  exp,
  scope: 'tool:echo',
};

function rejection(claims: Record<string, unknown>, p = policy): string {
  try {
    principalFromClaims(claims, p);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenRejectedError);
    return (error as TokenRejectedError).reason;
  }
  throw new Error('expected a rejection');
}

describe('principalFromClaims', () => {
  it('yields agent, client, scopes, token id and expiry', () => {
    expect(principalFromClaims(valid, policy)).toEqual({
      agentId: 'alice',
      clientId: 'app',
      scopes: new Set(['tool:echo']),
      tokenId: 'j1',
      expiresAt: exp * 1000,
    });
  });

  it('takes the agent from AUTH_AGENT_CLAIM and the client from azp when client_id is absent', () => {
    const { client_id: _c, ...rest } = valid;
    const principal = principalFromClaims(
      { ...rest, azp: 'kc-client', agent: 'bot-7' },
      { ...policy, agentClaim: 'agent' },
    );
    expect(principal).toMatchObject({ agentId: 'bot-7', clientId: 'kc-client' });
  });

  it('reads scopes from AUTH_SCOPE_CLAIMS: Entra app-only tokens carry them in roles', () => {
    const appOnly = { ...valid, scope: undefined, roles: ['tool:echo', 'mcp:admin'] };
    expect(principalFromClaims(appOnly, policy).scopes).toEqual(new Set()); // roles are not read by default
    expect(principalFromClaims(appOnly, { ...policy, scopeClaims: ['scp', 'roles'] }).scopes).toEqual(
      new Set(['tool:echo', 'mcp:admin']),
    );
    // Only the named claims count: `scope` is ignored when it is not among them.
    expect(principalFromClaims(valid, { ...policy, scopeClaims: ['roles'] }).scopes).toEqual(new Set());
  });

  it('accepts an audience array containing the resource, and uppercase scheme and host', () => {
    expect(principalFromClaims({ ...valid, aud: ['https://other.example', RESOURCE] }, policy).agentId).toBe(
      'alice',
    );
    expect(principalFromClaims({ ...valid, aud: 'HTTPS://MCP.EXAMPLE.COM:443/mcp' }, policy).agentId).toBe(
      'alice',
    );
  });

  it('rejects other audiences, a different path case, and tokens without aud', () => {
    expect(rejection({ ...valid, aud: 'https://mcp.example.com/other' })).toBe('audience');
    expect(rejection({ ...valid, aud: 'https://mcp.example.com/MCP' })).toBe('audience');
    expect(rejection({ ...valid, aud: 'https://mcp.example.com' })).toBe('audience');
    expect(rejection({ ...valid, aud: undefined })).toBe('audience');
    expect(rejection({ ...valid, aud: [42] })).toBe('audience');
  });

  it('rejects tokens without exp, jti or agent, and ID tokens', () => {
    expect(rejection({ ...valid, exp: undefined })).toBe('no exp');
    expect(rejection({ ...valid, jti: undefined })).toBe('no jti');
    expect(rejection({ ...valid, jti: 'x'.repeat(256) })).toBe('no jti');
    expect(rejection({ ...valid, sub: '' })).toBe('no sub');
    expect(rejection({ ...valid, sub: 42 })).toBe('no sub');
    expect(rejection({ ...valid, nonce: 'n' })).toBe('id token');
    expect(rejection({ ...valid, at_hash: 'h' })).toBe('id token');
  });

  it('requires iat (RFC 9068) no further ahead than the clock tolerance', () => {
    expect(rejection({ ...valid, iat: undefined })).toBe('no iat');
    expect(rejection({ ...valid, iat: String(now) })).toBe('no iat');
    expect(rejection({ ...valid, iat: Number.NaN })).toBe('no iat');
    // Read the clock here, with seconds of margin on both sides of the 30 s tolerance: a loaded CI machine may run
    // this long after the module's `now`.
    const current = Date.now() / 1000;
    expect(rejection({ ...valid, iat: current + 40 })).toBe('iat in the future');
    expect(principalFromClaims({ ...valid, iat: current + 20 }, policy).agentId).toBe('alice');
    expect(principalFromClaims({ ...valid, iat: now - 3600 }, policy).agentId).toBe('alice');
  });

  it('rejects NUL or a lone surrogate in any identifier claim, optional ones and scopes included', () => {
    for (const bad of ['a\u0000b', 'a\ud800', '\udc00b']) {
      for (const claim of ['sub', 'jti', 'uti', 'client_id', 'azp', 'scope', 'scp']) {
        expect(rejection({ ...valid, [claim]: bad })).toBe(`unstorable text in ${claim}`);
      }
      expect(rejection({ ...valid, scp: ['tool:echo', bad] })).toBe('unstorable text in scp');
      expect(rejection({ ...valid, agent: bad }, { ...policy, agentClaim: 'agent' })).toBe(
        'unstorable text in agent',
      );
    }
    // Paired surrogates (astral characters) are ordinary text.
    expect(principalFromClaims({ ...valid, sub: 'bot-😀', client_id: 'ü' }, policy).agentId).toBe('bot-😀');
  });

  it("uses Entra ID's uti as the token id when there is no jti", () => {
    expect(principalFromClaims({ ...valid, jti: undefined, uti: 'entra-1' }, policy).tokenId).toBe('entra-1');
  });
});

describe('normalizeAudience', () => {
  it('normalises http(s) URLs and leaves other identifiers alone', () => {
    expect(normalizeAudience('HTTPS://Example.COM:443/Path#frag')).toBe('https://example.com/Path');
    expect(normalizeAudience('http://localhost:80/mcp')).toBe('http://localhost/mcp');
    expect(normalizeAudience('api://6e1c-GUID')).toBe('api://6e1c-GUID');
    expect(normalizeAudience('6e1c3f2a-0000-4000-8000-000000000000')).toBe(
      '6e1c3f2a-0000-4000-8000-000000000000',
    );
  });
});
