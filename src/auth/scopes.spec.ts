import { requestViewOf } from '../common/request-view.js';
import { isScopeToken, scopesOf, toolCallNames as namesOf, toolScope } from './scopes.js';

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

describe('toolCallNames', () => {
  const call = (name: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });
  /** The request view of a POST /mcp with this body (each test builds a new request: no memo shared). */
  const toolCallNames = (body: unknown) =>
    namesOf(requestViewOf({ method: 'POST', routeOptions: { url: '/mcp' }, headers: {}, body } as never));

  it('finds the tool of a tools/call and ignores other methods', () => {
    expect(toolCallNames(call('echo'))).toEqual(['echo']);
    expect(toolCallNames({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toEqual([]);
    expect(toolCallNames({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual([]);
  });

  it('finds every tool of a batch, once each', () => {
    expect(toolCallNames([call('a'), call('b'), call('a'), { method: 'ping' }])).toEqual(['a', 'b']);
  });

  it('leaves out what cannot name a tool (the MCP layer rejects those)', () => {
    expect(toolCallNames(call(42))).toEqual([]);
    expect(toolCallNames(call('has space'))).toEqual([]);
    expect(toolCallNames(call('quo"te'))).toEqual([]);
    expect(toolCallNames({ method: 'tools/call' })).toEqual([]);
    expect(toolCallNames(undefined)).toEqual([]);
    expect(namesOf(undefined)).toEqual([]); // not a POST /mcp
    expect(toolCallNames('tools/call')).toEqual([]);
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
