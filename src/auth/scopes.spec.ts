import { toolScope } from '../common/scopes.js';
import { isScopeToken, scopesOf } from './scopes.js';

describe('scopesOf', () => {
  it('reads the space-separated scope claim', () => {
    expect(scopesOf({ scope: 'tool:echo  tool:counter.increment mcp:admin' })).toEqual(
      new Set(['tool:echo', 'tool:counter.increment', 'mcp:admin']),
    );
  });

  it('reads scp as an array (Okta) or a space-separated string (Entra ID), merged with scope', () => {
    expect(scopesOf({ scp: ['tool:echo', 'mcp:admin'] })).toEqual(new Set(['tool:echo', 'mcp:admin']));
    expect(scopesOf({ scp: 'tool:echo tool:x' })).toEqual(new Set(['tool:echo', 'tool:x']));
    expect(scopesOf({ scope: 'a', scp: ['b'] })).toEqual(new Set(['a', 'b']));
  });

  it('grants nothing for missing or malformed claims', () => {
    expect(scopesOf({})).toEqual(new Set());
    expect(scopesOf({ scope: 42, scp: [1, null, { a: 1 }] })).toEqual(new Set());
    expect(scopesOf({ scope: 'ok tool:"quoted" back\\slash' })).toEqual(new Set(['ok']));
  });
});

describe('scope tokens', () => {
  it('names tool scopes tool:<name> and checks the RFC 6749 character set', () => {
    expect(toolScope('counter.increment')).toBe('tool:counter.increment');
    expect(isScopeToken('mcp:admin')).toBe(true);
    expect(isScopeToken('')).toBe(false);
    expect(isScopeToken('a b')).toBe(false);
    expect(isScopeToken('é')).toBe(false);
  });
});
