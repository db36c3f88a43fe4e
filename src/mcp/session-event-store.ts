import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Events a session keeps for resumption; the oldest go first (a client that lost more must start over). */
export const SESSION_EVENTS_KEPT = 100;

/**
 * The SSE events of ONE stateful session, kept so that a client whose stream broke (a network blip, or a tool that
 * ended it on purpose with `ctx.closeStream()`) can reconnect with `GET` + `Last-Event-ID` and receive what it
 * missed, the call's result included (MCP resumability; the SDK transport does the protocol). In memory on the
 * replica that holds the session, like its GET stream; bounded to SESSION_EVENTS_KEPT events. Event ids are a
 * per-session sequence: they mean nothing outside the session, which only its own agent can reach.
 */
export class SessionEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  private sequence = 0;

  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = String(++this.sequence);
    this.events.set(eventId, { streamId, message });
    if (this.events.size > SESSION_EVENTS_KEPT) this.events.delete(this.events.keys().next().value!);
    return Promise.resolve(eventId);
  }

  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return Promise.resolve(this.events.get(eventId)?.streamId);
  }

  /** Sends the events of `lastEventId`'s stream stored after it, in order; answers that stream's id. */
  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = this.events.get(lastEventId)?.streamId;
    if (streamId === undefined) return '';
    const after = Number(lastEventId);
    for (const [eventId, event] of [...this.events]) {
      if (Number(eventId) > after && event.streamId === streamId) await send(eventId, event.message);
    }
    return streamId;
  }
}
