import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { NodeStreamableHTTPServerTransport as StreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Server } from '@modelcontextprotocol/server';
import { PinoLogger } from 'nestjs-pino';
import type { Principal } from '../common/principal.js';
import { AppConfig } from '../config/app-config.js';
import { ChangeFeed } from '../tools/change-feed.service.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { SessionEventStore } from './session-event-store.js';
import { SessionStore } from './session-store.service.js';

/** How long a client waits before reconnecting a broken SSE stream (the `retry` of the priming event). */
const RECONNECT_AFTER_MS = 500;

export interface McpSession {
  id: string;
  agentId: string;
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
  /** When this replica last confirmed the shared row (and refreshed its last_seen_at). */
  lastStored: number;
}

/** A session as a request finds it: live on this replica, or known only to the shared store. */
export type ResolvedSession = { live: McpSession } | { live: undefined };

/**
 * Stateful mode. The shared store (PostgreSQL) says which sessions exist and whose they are, so any replica can
 * serve a session's ordinary requests; the replica that opened a session also keeps its live SDK transport,
 * which server→client requests and the GET stream need. Clients often never send DELETE: sessions expire after
 * an idle timeout, and beyond the cap the least recently used live session of this replica is closed.
 */
@Injectable()
export class SessionRegistry implements BeforeApplicationShutdown, OnApplicationShutdown {
  /** Insertion order doubles as LRU order: `resolve` moves a session to the end. */
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;
  /** How stale this replica's view of a live session may get before it re-reads the shared row. */
  private readonly storeInterval: number;

  constructor(
    private readonly config: AppConfig,
    private readonly factory: McpServerFactory,
    private readonly store: SessionStore,
    private readonly changes: ChangeFeed,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('mcp-sessions');
    const idle = config.mcp.sessionIdleTimeoutMs;
    this.storeInterval = Math.min(idle / 4, 5_000);
    this.sweeper = setInterval(
      () => void this.sweep().catch(() => undefined),
      Math.min(idle / 2, 30_000),
    ).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * The session named by a request, if it exists, is not expired and belongs to this agent (anything else is
   * indistinguishable from "not found"). A DELETE served by another replica reaches the live copy here within
   * `storeInterval` at most.
   */
  async resolve(id: string, agentId: string, now = Date.now()): Promise<ResolvedSession | undefined> {
    const live = this.sessions.get(id);
    if (live && live.agentId !== agentId) return undefined;
    if (live && now - live.lastStored < this.storeInterval) return { live: this.markSeen(live, now) };
    if (!(await this.store.touch(id, agentId))) {
      if (live) await this.closeLive(id);
      return undefined;
    }
    if (!live) return { live: undefined };
    live.lastStored = now;
    return { live: this.markSeen(live, now) };
  }

  /** A transport+server pair that becomes a session (here and in the store) once the SDK has handled `initialize`. */
  async open(
    principal: Principal,
    initialize: { protocolVersion?: string; clientInfo?: object },
  ): Promise<StreamableHTTPServerTransport> {
    const { agentId } = principal;
    const server = this.factory.create();
    // The session hears list changes from any replica, as a listen stream would (resource updates go to its
    // subscriptions through ResourceSubscriptions).
    const unsubscribe = this.changes.agentBus(principal).subscribe((event) => {
      const send =
        event.kind === 'tools_list_changed'
          ? () => server.sendToolListChanged()
          : event.kind === 'prompts_list_changed'
            ? () => server.sendPromptListChanged()
            : event.kind === 'resources_list_changed'
              ? () => server.sendResourceListChanged()
              : undefined;
      // Before initialize completes, or on a closed session, there is no one to tell.
      send?.().catch(() => undefined);
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      // Resumable streams: a client whose SSE stream broke reconnects with Last-Event-ID (2025-11-25 clients are
      // told when, by the priming event's `retry`).
      eventStore: new SessionEventStore(),
      retryInterval: RECONNECT_AFTER_MS,
      // Comment lines on every SSE stream of the session (the GET stream too), so idle proxies do not cut it.
      keepAliveMs: this.config.mcp.sseHeartbeatMs,
      // Awaited by the SDK before it answers: the row exists before the client learns the id.
      onsessioninitialized: async (id) => {
        await this.store.create(
          id,
          agentId,
          initialize.protocolVersion,
          initialize.clientInfo as Record<string, unknown>,
        );
        while (this.sessions.size >= this.config.mcp.sessionMax) await this.evictOldest();
        const now = Date.now();
        this.sessions.set(id, { id, agentId, transport, server, lastSeen: now, lastStored: now });
        this.logger.info({ sessionId: id, agentId }, 'session opened');
      },
    });
    transport.onclose = () => {
      unsubscribe();
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport;
  }

  /** Ends a session everywhere (DELETE, expiry, eviction). */
  async close(id: string): Promise<void> {
    await this.store.delete(id);
    await this.closeLive(id);
  }

  async sweep(now = Date.now()): Promise<void> {
    const cutoff = now - this.config.mcp.sessionIdleTimeoutMs;
    for (const session of [...this.sessions.values()]) {
      if (session.lastSeen > cutoff) break; // LRU order: the rest are newer
      // Another replica may have served it since: the shared row decides.
      if (await this.store.isActive(session.id)) {
        this.markSeen(session, now);
        continue;
      }
      this.logger.info({ sessionId: session.id }, 'session expired');
      await this.close(session.id);
    }
    await this.store.deleteIdle();
  }

  private markSeen(session: McpSession, now: number): McpSession {
    this.sessions.delete(session.id);
    session.lastSeen = now;
    this.sessions.set(session.id, session);
    return session;
  }

  private async closeLive(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    await session.server.close();
  }

  private async evictOldest(): Promise<void> {
    const oldest = this.sessions.keys().next().value;
    if (oldest === undefined) return;
    this.logger.warn({ sessionId: oldest }, 'session cap reached; closing least recently used session');
    await this.close(oldest);
  }

  /**
   * Before the listener closes: end the long-lived GET streams (POSTs in flight may still finish) and forget this
   * replica's sessions in the shared store. A session's stream and server→client requests live where it was
   * opened, so when that replica goes the session goes too: its client gets 404 on every replica and initializes
   * again (README "Ingress"), instead of a half-session that can no longer ask it anything.
   */
  async beforeApplicationShutdown(): Promise<void> {
    for (const session of this.sessions.values()) session.transport.closeStandaloneSSEStream();
    try {
      await this.store.deleteMany([...this.sessions.keys()]);
    } catch (err) {
      // The database is gone too: the rows expire after the idle timeout instead.
      this.logger.warn({ err }, 'could not remove the sessions of this replica from the shared store');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.closeLive(id)));
  }
}
