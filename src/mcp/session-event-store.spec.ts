import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { SESSION_EVENT_BYTES_KEPT, SESSION_EVENTS_KEPT, SessionEventStore } from './session-event-store.js';

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/message',
  params: { n },
});

async function replay(store: SessionEventStore, after: string) {
  const sent: [string, JSONRPCMessage][] = [];
  const streamId = await store.replayEventsAfter(after, {
    send: async (eventId, message) => void sent.push([eventId, message]),
  });
  return { streamId, sent };
}

describe('SessionEventStore', () => {
  it('replays the events of the same stream after the given one, in order', async () => {
    const store = new SessionEventStore();
    const a1 = await store.storeEvent('a', note(1));
    await store.storeEvent('b', note(2));
    const a3 = await store.storeEvent('a', note(3));
    const a4 = await store.storeEvent('a', note(4));
    expect(await store.getStreamIdForEventId(a1)).toBe('a');
    expect(await replay(store, a1)).toEqual({
      streamId: 'a',
      sent: [
        [a3, note(3)],
        [a4, note(4)],
      ],
    });
    expect(await replay(store, a4)).toEqual({ streamId: 'a', sent: [] });
  });

  it('does not know ids it never issued, or has forgotten (it keeps the newest SESSION_EVENTS_KEPT)', async () => {
    const store = new SessionEventStore();
    const first = await store.storeEvent('s', note(0));
    expect(await store.getStreamIdForEventId('nope')).toBeUndefined();
    expect(await replay(store, 'nope')).toEqual({ streamId: '', sent: [] });
    for (let i = 1; i <= SESSION_EVENTS_KEPT; i++) await store.storeEvent('s', note(i));
    expect(await store.getStreamIdForEventId(first)).toBeUndefined();
    const { sent } = await replay(store, String(Number(first) + 1));
    expect(sent).toHaveLength(SESSION_EVENTS_KEPT - 1);
    expect(sent.at(-1)?.[1]).toEqual(note(SESSION_EVENTS_KEPT));
  });

  it('keeps at most SESSION_EVENT_BYTES_KEPT bytes of events, and always the newest one', async () => {
    const store = new SessionEventStore();
    const big = (n: number): JSONRPCMessage => ({
      jsonrpc: '2.0',
      id: n,
      result: { text: 'x'.repeat(SESSION_EVENT_BYTES_KEPT / 4) },
    });
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await store.storeEvent('s', big(i)));
    // Each is just over a quarter of the budget: the three newest fit.
    const kept = await Promise.all(ids.map((id) => store.getStreamIdForEventId(id)));
    expect(kept).toEqual([undefined, undefined, undefined, 's', 's', 's']);
    const huge = await store.storeEvent('s', {
      jsonrpc: '2.0',
      id: 99,
      result: { text: 'x'.repeat(SESSION_EVENT_BYTES_KEPT * 2) },
    });
    expect(await store.getStreamIdForEventId(huge)).toBe('s');
    expect(await store.getStreamIdForEventId(ids[5])).toBeUndefined();
  });
});
