import { bearerTokenOf, readCredentials } from './bearer-credentials.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

describe('readCredentials', () => {
  it('finds a bearer token, whatever the case of the scheme', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect(readCredentials(['Authorization', `${scheme} ${TOKEN}`])).toEqual({
        kind: 'bearer',
        token: TOKEN,
      });
    }
  });

  it('accepts several spaces after the scheme (1*SP) and b64token padding', () => {
    expect(readCredentials(['authorization', 'Bearer   abc+/._~-=='])).toEqual({
      kind: 'bearer',
      token: 'abc+/._~-==',
    });
  });

  it('reports no credentials when there is no (or an empty) Authorization header', () => {
    expect(readCredentials(['Host', 'x', 'Accept', '*/*'])).toEqual({ kind: 'none' });
    expect(readCredentials(['Authorization', ''])).toEqual({ kind: 'none' });
  });

  it('reports other schemes as such, not as a bad token', () => {
    expect(readCredentials(['Authorization', 'Basic dTpw'])).toEqual({ kind: 'other-scheme' });
    expect(readCredentials(['Authorization', 'Token abc'])).toEqual({ kind: 'other-scheme' });
    expect(readCredentials(['Authorization', 'Bearerabc'])).toEqual({ kind: 'other-scheme' });
  });

  it('flags a Bearer header without a token or with characters outside b64token', () => {
    expect(readCredentials(['Authorization', 'Bearer'])).toEqual({ kind: 'malformed' });
    expect(readCredentials(['Authorization', 'Bearer a b'])).toEqual({ kind: 'malformed' });
    expect(readCredentials(['Authorization', 'Bearer a,Bearer b'])).toEqual({ kind: 'malformed' });
    expect(readCredentials(['Authorization', 'Bearer "quoted"'])).toEqual({ kind: 'malformed' });
    expect(readCredentials(['Authorization', 'Bearer =abc'])).toEqual({ kind: 'malformed' });
  });

  it('flags two Authorization headers, which Node would silently reduce to one', () => {
    expect(readCredentials(['Authorization', `Bearer ${TOKEN}`, 'authorization', `Bearer ${TOKEN}`])).toEqual(
      {
        kind: 'multiple',
      },
    );
    expect(readCredentials(['Authorization', `Bearer ${TOKEN}`, 'AUTHORIZATION', 'Basic dTpw'])).toEqual({
      kind: 'multiple',
    });
  });
});

describe('bearerTokenOf', () => {
  it('reads the header only: a token in the URL is not a credential', () => {
    expect(bearerTokenOf({ raw: { rawHeaders: ['Authorization', `bearer ${TOKEN}`] } })).toBe(TOKEN);
    const withQuery = {
      url: `/mcp?access_token=${TOKEN}`,
      query: { access_token: TOKEN },
      raw: { rawHeaders: [] },
    };
    expect(bearerTokenOf(withQuery)).toBeNull();
  });
});
