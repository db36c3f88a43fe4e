import { DatabaseTimeoutError } from './bounded-client.js';
import { CoalescedLookup } from './coalesced-lookup.js';

/** A fetch whose calls the test answers by hand, in any order. */
function manualFetch() {
  const calls: { keys: string[]; answer: (m: Map<string, number>) => void; fail: (e: Error) => void }[] = [];
  const fetch = (keys: string[]) =>
    new Promise<Map<string, number>>((answer, fail) => calls.push({ keys, answer, fail }));
  return { calls, fetch };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('CoalescedLookup', () => {
  it('sends a lookup at once while fewer than maxInFlight are running', async () => {
    const { calls, fetch } = manualFetch();
    const lookup = new CoalescedLookup(fetch, 0, 2);
    const a = lookup.get('a');
    const b = lookup.get('b');
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b']]);
    calls[0].answer(new Map([['a', 1]]));
    calls[1].answer(new Map());
    expect(await a).toBe(1);
    expect(await b).toBe(0); // not in the answer: the fallback
  });

  it('never answers a key from a lookup sent before it was asked for', async () => {
    const { calls, fetch } = manualFetch();
    const lookup = new CoalescedLookup(fetch, 0, 1);
    const early = lookup.get('jti');
    const late = lookup.get('jti'); // asked while the first lookup is in flight: must wait for a fresh one
    const other = lookup.get('other');
    expect(calls).toHaveLength(1);
    calls[0].answer(new Map([['jti', 1]]));
    expect(await early).toBe(1);
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['jti'], ['jti', 'other']]); // one statement for both waiters
    calls[1].answer(new Map([['jti', 2]]));
    expect(await late).toBe(2);
    expect(await other).toBe(0);
    expect(lookup.stats).toEqual({ statements: 2, keys: 3 });
  });

  it('fails every waiter of a failed lookup, and the next lookup starts afresh', async () => {
    const { calls, fetch } = manualFetch();
    const lookup = new CoalescedLookup(fetch, 0, 1);
    const a = lookup.get('a');
    const b = lookup.get('b');
    const c = lookup.get('c');
    calls[0].fail(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await tick();
    calls[1].fail(new Error('still down'));
    await expect(b).rejects.toThrow('still down');
    await expect(c).rejects.toThrow('still down');
    const d = lookup.get('d');
    calls[2].answer(new Map([['d', 4]]));
    expect(await d).toBe(4);
  });

  it('fails the keys waiting behind a lookup the database did not answer in time, at once (issue #15 §4)', async () => {
    const { calls, fetch } = manualFetch();
    const lookup = new CoalescedLookup(fetch, 0, 1);
    const a = lookup.get('a');
    const b = lookup.get('b'); // waits behind a's lookup
    calls[0].fail(new DatabaseTimeoutError(1500));
    await expect(a).rejects.toThrow('did not answer within 1500 ms');
    await expect(b).rejects.toThrow('did not answer within 1500 ms');
    await tick();
    expect(calls).toHaveLength(1); // b was not sent to wait as long again
    const c = lookup.get('c'); // a later key gets a fresh lookup
    calls[1].answer(new Map([['c', 3]]));
    expect(await c).toBe(3);
  });
});
