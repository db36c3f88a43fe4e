import { Injectable } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';

/**
 * `resources/subscribe` bookkeeping: which live SDK servers (one per session, or per stateless request) asked for
 * which URIs. `updated(uri)` sends `notifications/resources/updated` to each; code that changes a resource calls it.
 * Subscriptions are in memory on the replica that holds the session (a stateless request forgets them at its end).
 */
@Injectable()
export class ResourceSubscriptions {
  private readonly byServer = new Map<Server, Set<string>>();

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

  /** Notifies every subscriber of `uri`; returns how many were notified. */
  async updated(uri: string): Promise<number> {
    const targets = [...this.byServer].filter(([, uris]) => uris.has(uri)).map(([server]) => server);
    await Promise.all(targets.map((server) => server.sendResourceUpdated({ uri }).catch(() => undefined)));
    return targets.length;
  }
}
