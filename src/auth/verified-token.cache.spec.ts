import { generateKeyPairSync } from 'node:crypto';
import type { Principal } from '../common/principal.js';
import { VerifiedTokenCache, type VerifiedToken } from './verified-token.cache.js';

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const principal: Principal = { agentId: 'a', scopes: new Set(['tool:echo']), tokenId: 'jti-1' };
const NOW = 1_800_000_000; // seconds

function verified(exp: number, nbf?: number): VerifiedToken {
  return { principal, header: { alg: 'ES256', kid: 'k1' }, key: publicKey, exp, nbf };
}

function cache(options: Partial<{ maxEntries: number; maxAgeMs: number }> = {}) {
  const clock = { ms: NOW * 1000 };
  const c = new VerifiedTokenCache({
    maxEntries: options.maxEntries ?? 10,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    clockToleranceSec: 30,
    now: () => clock.ms,
  });
  return { c, clock };
}

describe('VerifiedTokenCache', () => {
  it('returns a stored verification for the same token only, and counts the hits', () => {
    const { c } = cache();
    c.set('token-a', verified(NOW + 300));
    expect(c.get('token-a')?.principal).toEqual(principal);
    expect(c.get('token-b')).toBeUndefined();
    expect(c.hits).toBe(1);
  });

  it('keeps a frozen copy of the principal (shared by every request presenting the token)', () => {
    const { c } = cache();
    c.set('t', verified(NOW + 300));
    const hit = c.get('t')!;
    expect(Object.isFrozen(hit.principal)).toBe(true);
    expect(hit.principal).not.toBe(principal);
  });

  it("never serves an entry once its token's exp has passed, with the same leeway as jsonwebtoken", () => {
    const { c, clock } = cache();
    c.set('t', verified(NOW - 20)); // expired 20 s ago, inside the 30 s leeway: still valid
    clock.ms = (NOW + 9) * 1000; // exp + 29 s
    expect(c.get('t')).toBeDefined();
    clock.ms = (NOW + 10) * 1000; // exp + 30 s: jsonwebtoken says expired
    expect(c.get('t')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('does not store a token that is already past exp + leeway, or not yet valid', () => {
    const { c } = cache();
    c.set('old', verified(NOW - 30));
    c.set('early', verified(NOW + 300, NOW + 31));
    expect(c.size).toBe(0);
    c.set('soon', verified(NOW + 300, NOW + 30));
    expect(c.get('soon')).toBeDefined();
  });

  it('uses an entry for at most maxAgeMs, however long the token lives', () => {
    const { c, clock } = cache({ maxAgeMs: 60_000 });
    c.set('t', verified(NOW + 3600));
    clock.ms += 59_999;
    expect(c.get('t')).toBeDefined();
    clock.ms += 1;
    expect(c.get('t')).toBeUndefined();
  });

  it('is a bounded LRU: the least recently used entry goes first', () => {
    const { c } = cache({ maxEntries: 2 });
    c.set('a', verified(NOW + 300));
    c.set('b', verified(NOW + 300));
    expect(c.get('a')).toBeDefined(); // a is now the most recent
    c.set('c', verified(NOW + 300));
    expect(c.size).toBe(2);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.get('c')).toBeDefined();
  });

  it('forgets a token on delete', () => {
    const { c } = cache();
    c.set('t', verified(NOW + 300));
    c.delete('t');
    expect(c.get('t')).toBeUndefined();
  });
});
