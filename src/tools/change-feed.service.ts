import { randomUUID } from 'node:crypto';
import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ServerEvent, ServerEventBus, ServerNotifier } from '@modelcontextprotocol/server';
import { PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { outageLog } from '../common/logging/outage-log.js';
import type { Principal } from '../common/principal.js';
import { AppConfig } from '../config/app-config.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { AccessPolicy, featureKey } from '../permissions/access-policy.service.js';
import { ResourceRegistry } from './resource-registry.service.js';

/** The PostgreSQL channel replicas tell each other about changes on. */
export const CHANGE_FEED_CHANNEL = 'mcp_changes';
const NOTIFY: Statement = {
  name: 'change_feed_notify',
  text: `SELECT pg_notify('${CHANGE_FEED_CHANNEL}', $1)`,
};
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (default build). */
const MAX_PAYLOAD_BYTES = 7999;
const RECONNECT_MS = 1000;
const KINDS = new Set([
  'tools_list_changed',
  'prompts_list_changed',
  'resources_list_changed',
  'resource_updated',
]);

/** What travels through NOTIFY: the event, the replica that sent it and, for an agent-only event, the agent. */
interface Wire {
  replica: string;
  event: ServerEvent;
  agentId?: string;
}
type FeedListener = (event: ServerEvent, agentId: string | undefined) => void;

/**
 * What a tool pack may announce: its tools, prompts or resources changed (for everyone), or a resource's content
 * did. Listening agents hear of it on `subscriptions/listen` (a resource update only if they may read it), legacy
 * sessions subscribed to the resource too, on every replica. A pack injects it into its tools class (the pack's
 * module imports ToolsModule). Fire and forget: never throws, delivery is best effort.
 */
export abstract class ChangeNotifier implements ServerNotifier {
  abstract toolsChanged(): void;
  abstract promptsChanged(): void;
  abstract resourcesChanged(): void;
  abstract resourceUpdated(uri: string): void;
}

/**
 * The `ServerEventBus` of `subscriptions/listen`, across replicas. `publish()` delivers to this replica's
 * listeners at once and tells the others through PostgreSQL `NOTIFY` (tagged with this replica, which ignores its
 * own echo); each replica `LISTEN`s on a connection of its own and delivers what the others sent. Best effort,
 * like the notifications themselves: a replica whose listener is reconnecting misses what was sent meanwhile.
 * Off on the embedded database (one process, nobody to tell). Legacy resource subscriptions ride on it too
 * (ResourceSubscriptions), so a replica holds one LISTEN connection.
 *
 * `subscribe()` sees every event, whoever it is for: a listen stream subscribes through `agentBus(principal)`.
 */
@Injectable()
export class ChangeFeed
  extends ChangeNotifier
  implements ServerEventBus, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly listeners = new Set<FeedListener>();
  /** Tags this replica's NOTIFY payloads, so it does not deliver them twice. */
  private readonly replica = randomUUID();
  /** Per resource-update event: the resource its URI names, and each agent's grant decision (one lookup each). */
  private readonly readable = new WeakMap<
    ServerEvent,
    { name?: string; granted: Map<string, Promise<boolean>> }
  >();
  private listener?: pg.Client;
  private stopped = false;

  constructor(
    private readonly sql: HotSql,
    private readonly config: AppConfig,
    private readonly policy: AccessPolicy,
    private readonly resources: ResourceRegistry,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext('changes');
  }

  /** Whether events reach the other replicas (a DATABASE_URL is set). */
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

  publish(event: ServerEvent): void {
    void this.send(event);
  }

  /**
   * Delivers `event` here (synchronously) and tells the other replicas; with `agentId`, only that agent's
   * listeners get it (e.g. its grants changed: nobody else's lists did). Resolves once the NOTIFY is sent or its
   * failure logged; never rejects.
   */
  async send(event: ServerEvent, agentId?: string): Promise<void> {
    this.deliver(event, agentId);
    if (!this.shared) return;
    const payload = JSON.stringify({ replica: this.replica, event, agentId } satisfies Wire);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      // Only a URI of ~8 kB gets here: the other replicas' listeners miss this one.
      this.logger.warn({ kind: event.kind, bytes: Buffer.byteLength(payload) }, 'change too large to share');
      return;
    }
    try {
      await this.sql.rows(NOTIFY, [payload]);
    } catch (err) {
      // During a database outage: one line per cause per interval.
      outageLog.report(
        this.logger,
        err,
        'could not tell the other replicas about a change',
        { kind: event.kind },
        'warn',
      );
    }
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    return this.watch((event) => listener(event));
  }

  toolsChanged(): void {
    this.publish({ kind: 'tools_list_changed' });
  }

  promptsChanged(): void {
    this.publish({ kind: 'prompts_list_changed' });
  }

  resourcesChanged(): void {
    this.publish({ kind: 'resources_list_changed' });
  }

  resourceUpdated(uri: string): void {
    this.publish({ kind: 'resource_updated', uri });
  }

  /**
   * An agent's grant for `key` (a tool name, `resource:<name>` or `prompt:<name>`) was created or revoked: that
   * agent's list of that kind changed. Resolves as `send`.
   */
  grantChanged(agentId: string, key: string): Promise<void> {
    const kind = key.startsWith('resource:')
      ? 'resources_list_changed'
      : key.startsWith('prompt:')
        ? 'prompts_list_changed'
        : 'tools_list_changed';
    return this.send({ kind }, agentId);
  }

  /**
   * The bus one listening agent's `subscriptions/listen` stream subscribes to: it hears only what it may see.
   * - A list-changed event names nothing, so it passes (minus other agents' grant changes): the agent re-lists,
   *   and `tools/list` etc. show it only what it may use.
   * - `resource_updated` names a URI: it passes only if the agent may read it now, the same decision as
   *   `resources/read` (AccessPolicy: scope `resource:<name>` of this token AND a grant in force), taken once
   *   per event and agent; an unknown URI never passes. `watched` (the stream's `resourceSubscriptions`, when the
   *   caller has them) drops the others before any lookup; the SDK's router filters by it anyway.
   * - Nothing passes once the token has expired (the stream outlives the request that opened it).
   * A resource update reaches the listener after the (asynchronous) check, so it may overtake or trail a
   * list-changed; notifications are hints, their order carries no meaning.
   */
  agentBus(principal: Principal, watched?: Iterable<string>): ServerEventBus {
    const uris = watched && new Set(watched);
    return {
      publish: (event) => this.publish(event),
      subscribe: (listener) =>
        this.watch((event, agentId) => {
          if (agentId !== undefined && agentId !== principal.agentId) return;
          if (principal.expiresAt !== undefined && Date.now() >= principal.expiresAt) return;
          if (event.kind !== 'resource_updated') return listener(event);
          if (uris && !uris.has(event.uri)) return;
          void this.mayRead(principal, event).then((allowed) => allowed && this.call(listener, event));
        }),
    };
  }

  /** `listener` must be a new function (each subscription's own), so that unsubscribing removes only it. */
  private watch(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private deliver(event: ServerEvent, agentId: string | undefined): void {
    for (const listener of this.listeners) this.call(listener, event, agentId);
  }

  /** One listener's failure is its own: the others still hear of the event, the publisher never does. */
  private call(listener: FeedListener, event: ServerEvent, agentId?: string): void {
    try {
      listener(event, agentId);
    } catch (err) {
      this.logger.error({ err, kind: event.kind }, 'change listener failed');
    }
  }

  private async mayRead(
    principal: Principal,
    event: ServerEvent & { kind: 'resource_updated' },
  ): Promise<boolean> {
    let cached = this.readable.get(event);
    if (!cached) {
      cached = { name: this.resources.resolve(event.uri)?.resource.name, granted: new Map() };
      this.readable.set(event, cached);
    }
    const { name, granted } = cached;
    // The scope belongs to this token (checked here, for each stream); the grant to the agent (looked up once).
    if (name === undefined || !principal.scopes.has(featureKey('resource', name))) return false;
    let decision = granted.get(principal.agentId);
    if (!decision) {
      decision = this.policy.decideFeature(principal, 'resource', name).then(
        (d) => d.allowed,
        (err: unknown) => {
          outageLog.report(this.logger, err, 'could not check a resource update against grants', {}, 'warn');
          return false; // fail closed
        },
      );
      granted.set(principal.agentId, decision);
    }
    return decision;
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
      if (err) outageLog.report(this.logger, err, 'change listener lost; reconnecting', {}, 'warn');
      void client.end().catch(() => undefined);
      setTimeout(() => void this.listen(), RECONNECT_MS).unref();
    };
    client.on('error', retry);
    client.on('end', () => retry());
    client.on('notification', ({ payload }) => {
      const wire = parseWire(payload);
      if (wire && wire.replica !== this.replica) this.deliver(wire.event, wire.agentId);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_FEED_CHANNEL}`);
      if (this.stopped) await client.end();
      else this.listener = client;
    } catch (err) {
      retry(err);
    }
  }
}

/** A payload of ours, or undefined (anyone who may connect to the database can NOTIFY on the channel). */
function parseWire(payload: string | undefined): Wire | undefined {
  try {
    const wire = JSON.parse(payload ?? '') as Partial<Wire>;
    const event = wire.event as { kind?: unknown; uri?: unknown } | undefined;
    if (typeof wire.replica !== 'string' || !KINDS.has(event?.kind as string)) return undefined;
    if (event!.kind === 'resource_updated' && typeof event!.uri !== 'string') return undefined;
    if (wire.agentId !== undefined && typeof wire.agentId !== 'string') return undefined;
    return wire as Wire;
  } catch {
    return undefined;
  }
}
