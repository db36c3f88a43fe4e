import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

/** Events a session keeps for resumption, and their JSON bytes; beyond either, the oldest go first. */
export const SESSION_EVENTS_KEPT = 100;
export const SESSION_EVENT_BYTES_KEPT = 1024 * 1024;

/**
 * The SSE events of ONE stateful session, kept so that a client whose stream broke (a network blip, or a tool that
 * ended it on purpose with `ctx.closeStream()`) can reconnect with `GET` + `Last-Event-ID` and receive what it
 * missed, the call's result included (MCP resumability; the SDK transport does the protocol). In memory on the
 * replica that holds the session, like its GET stream; bounded to SESSION_EVENTS_KEPT events and
 * SESSION_EVENT_BYTES_KEPT bytes (the newest event is always kept); a client that lost more must start over. Event ids are a
 * per-session sequence: they mean nothing outside the session, which only its own agent can reach.
 */
export class SessionEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage; bytes: number }>();
  private sequence = 0;
  private bytes = 0;

  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = String(++this.sequence);
    const bytes = Buffer.byteLength(JSON.stringify(message));
    this.events.set(eventId, { streamId, message, bytes });
    this.bytes += bytes;
    while (
      this.events.size > 1 &&
      (this.events.size > SESSION_EVENTS_KEPT || this.bytes > SESSION_EVENT_BYTES_KEPT)
    ) {
      const [oldest, event] = this.events.entries().next().value!;
      this.events.delete(oldest);
      this.bytes -= event.bytes;
    }
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
