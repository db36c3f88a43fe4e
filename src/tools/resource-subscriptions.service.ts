import { Injectable } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/server';
import { CHANGE_FEED_CHANNEL, ChangeFeed } from './change-feed.service.js';

/** The PostgreSQL channel resource updates travel on between replicas: the change feed's. */
export const RESOURCE_UPDATES_CHANNEL = CHANGE_FEED_CHANNEL;

/**
 * `resources/subscribe` bookkeeping (legacy sessions): which live SDK servers (one per session, or per stateless
 * request) asked for which URIs. `updated(uri)` sends `notifications/resources/updated` to each; code that
 * changes a resource calls it. Subscriptions are in memory on the replica that holds the session (a stateless
 * request forgets them at its end).
 *
 * Across replicas: the update may happen on any replica (the tool call that changed the resource landed there),
 * so `updated()` publishes it on the ChangeFeed, which tells the other replicas (PostgreSQL NOTIFY) and, on each,
 * this service and the `subscriptions/listen` streams. Best effort, like the notification itself.
 */
@Injectable()
export class ResourceSubscriptions {
  private readonly byServer = new Map<Server, Set<string>>();

  constructor(private readonly feed: ChangeFeed) {
    // Whichever replica the update was made on (this one included): the feed delivers it here once.
    feed.subscribe((event) => {
      if (event.kind === 'resource_updated') this.notifyHere(event.uri);
    });
  }

  subscribe(server: Server, uri: string): void {
    const uris = this.byServer.get(server) ?? new Set<string>();
    uris.add(uri);
    this.byServer.set(server, uris);
  }

  unsubscribe(server: Server, uri: string): void {
    const uris = this.byServer.get(server);
    uris?.delete(uri);
    if (uris?.size === 0) this.byServer.delete(server);
  }

  /** Forgets a closed server. */
  drop(server: Server): void {
    this.byServer.delete(server);
  }

  isSubscribed(server: Server, uri: string): boolean {
    return this.byServer.get(server)?.has(uri) ?? false;
  }

  /**
   * Notifies every subscriber of `uri` (legacy sessions and listen streams that may read it), here and on the
   * other replicas; returns how many legacy subscribers were notified here.
   */
  async updated(uri: string): Promise<number> {
    const here = this.subscribersOf(uri).length;
    await this.feed.send({ kind: 'resource_updated', uri });
    return here;
  }

  private subscribersOf(uri: string): Server[] {
    return [...this.byServer].filter(([, uris]) => uris.has(uri)).map(([server]) => server);
  }

  private notifyHere(uri: string): void {
    for (const server of this.subscribersOf(uri))
      void server.sendResourceUpdated({ uri }).catch(() => undefined);
  }
}
