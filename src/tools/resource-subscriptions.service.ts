import { randomUUID } from 'node:crypto';
import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { outageLog } from '../common/logging/outage-log.js';
import { AppConfig } from '../config/app-config.js';
import { HotSql, type Statement } from '../database/hot-sql.js';

/** The PostgreSQL channel replicas tell each other about resource updates on. */
export const RESOURCE_UPDATES_CHANNEL = 'mcp_resource_updated';
const NOTIFY: Statement = {
  name: 'resource_updated_notify',
  text: `SELECT pg_notify('${RESOURCE_UPDATES_CHANNEL}', $1)`,
};
const RECONNECT_MS = 1000;

/**
 * `resources/subscribe` bookkeeping: which live SDK servers (one per session, or per stateless request) asked for
 * which URIs. `updated(uri)` sends `notifications/resources/updated` to each; code that changes a resource calls it.
 * Subscriptions are in memory on the replica that holds the session (a stateless request forgets them at its end).
 *
 * Across replicas: the update may happen on any replica (the tool call that changed the resource landed there),
 * so `updated()` also tells the others through PostgreSQL `NOTIFY`, and each replica `LISTEN`s on a connection of
 * its own and notifies its own subscribers. Best effort, like the notification itself: a replica whose listener
 * is reconnecting misses what was sent meanwhile. Off on the embedded database (one process, nobody to tell).
 */
@Injectable()
export class ResourceSubscriptions implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly byServer = new Map<Server, Set<string>>();
  /** Tags this replica's NOTIFY payloads, so it does not notify its subscribers twice. */
  private readonly replica = randomUUID();
  private listener?: pg.Client;
  private stopped = false;

  constructor(
    private readonly sql: HotSql,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('resources');
  }

  /** Whether updates reach the other replicas (a DATABASE_URL is set). */
  get shared(): boolean {
    return this.config.database.url !== undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.shared) await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.listener?.end().catch(() => undefined);
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

  /** Notifies every subscriber of `uri`, here and on the other replicas; returns how many were notified here. */
  async updated(uri: string): Promise<number> {
    const [here] = await Promise.all([this.notifyHere(uri), this.shared ? this.tellOthers(uri) : undefined]);
    return here;
  }

  private async notifyHere(uri: string): Promise<number> {
    const targets = [...this.byServer].filter(([, uris]) => uris.has(uri)).map(([server]) => server);
    await Promise.all(targets.map((server) => server.sendResourceUpdated({ uri }).catch(() => undefined)));
    return targets.length;
  }

  private async tellOthers(uri: string): Promise<void> {
    try {
      await this.sql.rows(NOTIFY, [`${this.replica} ${uri}`]);
    } catch (err) {
      // e.g. a URI beyond NOTIFY's 8000-byte payload, or the database down: the replicas miss this one.
      outageLog.report(
        this.logger,
        err,
        'could not tell the other replicas about a resource update',
        { uri },
        'warn',
      );
    }
  }

  /** A connection of its own that LISTENs; reconnects (after RECONNECT_MS) whenever it fails, until shutdown. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    // A bounded connect: boot waits for the first attempt, never longer than this.
    const client = new pg.Client({
      connectionString: this.config.database.url,
      connectionTimeoutMillis: 5000,
    });
    let retried = false;
    const retry = (err?: unknown) => {
      if (retried || this.stopped) return;
      retried = true;
      if (this.listener === client) this.listener = undefined;
      // Reconnects every second during a database outage: one line per cause per interval, no stack.
      if (err) outageLog.report(this.logger, err, 'resource update listener lost; reconnecting', {}, 'warn');
      void client.end().catch(() => undefined);
      setTimeout(() => void this.listen(), RECONNECT_MS).unref();
    };
    client.on('error', retry);
    client.on('end', () => retry());
    client.on('notification', ({ payload }) => {
      const space = payload?.indexOf(' ') ?? -1;
      if (space < 0 || payload!.slice(0, space) === this.replica) return;
      void this.notifyHere(payload!.slice(space + 1));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RESOURCE_UPDATES_CHANNEL}`);
      if (this.stopped) await client.end();
      else this.listener = client;
    } catch (err) {
      retry(err);
    }
  }
}
