import { AuthChallenges, bearerChallenge, resourceMetadataUrl } from './challenge.js';

const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

/** A strict parser for one Bearer challenge: each parameter a quoted string, each at most once. */
function parse(header: string): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  const rest = header.slice('Bearer '.length);
  const pattern = /([a-z_]+)="([^"\\]*)"(?:, |$)/y;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(rest))) {
    expect(params).not.toHaveProperty(match[1]);
    params[match[1]] = match[2];
    consumed = pattern.lastIndex;
  }
  expect(consumed).toBe(rest.length);
  return params;
}

describe('bearerChallenge', () => {
  it('builds the no-credentials challenge with resource_metadata only', () => {
    expect(bearerChallenge({ resourceMetadata: PRM })).toBe(`Bearer resource_metadata="${PRM}"`);
  });

  it('orders error, error_description, scope, resource_metadata', () => {
    expect(
      bearerChallenge({ error: 'insufficient_scope', scopes: ['tool:echo'], resourceMetadata: PRM }),
    ).toBe(`Bearer error="insufficient_scope", scope="tool:echo", resource_metadata="${PRM}"`);
    expect(
      bearerChallenge({
        error: 'invalid_token',
        errorDescription: 'The access token expired',
        resourceMetadata: PRM,
      }),
    ).toBe(
      `Bearer error="invalid_token", error_description="The access token expired", resource_metadata="${PRM}"`,
    );
  });

  it('never lets a quote, a backslash or a control character into a quoted value', () => {
    const header = bearerChallenge({
      error: 'invalid_request',
      errorDescription: 'bad "value" \\ here\r\nX-Injected: 1',
      scopes: ['tool:ok', 'tool:"bad"', 'tool:a b', 'tool:back\\slash'],
      resourceMetadata: PRM,
    });
    const params = parse(header);
    expect(params.error_description).toBe('bad ?value? ? here??X-Injected: 1');
    expect(params.scope).toBe('tool:ok');
    expect(header).not.toMatch(/[\r\n]/);
  });

  it('lists each scope once', () => {
    expect(parse(bearerChallenge({ scopes: ['a', 'b', 'a'], resourceMetadata: PRM })).scope).toBe('a b');
  });
});

describe('AuthChallenges', () => {
  const challenges = new AuthChallenges(resourceMetadataUrl('https://mcp.example.com'));

  it('points at the RFC 9728 path-inserted metadata URL of $PUBLIC_URL/mcp', () => {
    expect(challenges.resourceMetadata).toBe(PRM);
  });

  it('answers missing credentials with 401 UNAUTHENTICATED and no error parameter', () => {
    const error = challenges.unauthenticated();
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(parse(error.headers['www-authenticate'])).toEqual({ resource_metadata: PRM });
  });

  it('answers a rejected token with 401 INVALID_TOKEN and a generic description', () => {
    const invalid = challenges.invalidToken();
    expect(invalid.code).toBe('INVALID_TOKEN');
    expect(parse(invalid.headers['www-authenticate'])).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid',
      resource_metadata: PRM,
    });
    expect(parse(challenges.invalidToken(true).headers['www-authenticate']).error_description).toBe(
      'The access token expired',
    );
  });

  it('answers two credentials with 400 INVALID_REQUEST', () => {
    const error = challenges.invalidRequest('Send exactly one Authorization header');
    expect(error.code).toBe('INVALID_REQUEST');
    expect(parse(error.headers['www-authenticate']).error).toBe('invalid_request');
  });

  it('answers a missing scope with 403 INSUFFICIENT_SCOPE naming every required scope in one challenge', () => {
    const error = challenges.insufficientScope(['tool:a', 'tool:b']);
    expect(error.code).toBe('INSUFFICIENT_SCOPE');
    expect(error.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="tool:a tool:b", resource_metadata="${PRM}"`,
    );
  });
});
