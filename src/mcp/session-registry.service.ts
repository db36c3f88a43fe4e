import { randomUUID } from 'node:crypto';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { McpServerFactory } from './mcp-server.factory.js';

export interface McpSession {
  id: string;
  agentId: string;
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
}

/**
 * Stateful mode: live sessions of this process, bound to the agent that opened them. Clients often never send
 * DELETE, so sessions expire after an idle timeout and the least recently used one is closed at the cap.
 */
@Injectable()
export class SessionRegistry implements OnApplicationShutdown {
  /** Insertion order doubles as LRU order: `touch` moves a session to the end. */
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly factory: McpServerFactory,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('mcp-sessions');
    const idle = config.mcp.sessionIdleTimeoutMs;
    this.sweeper = setInterval(() => void this.sweep(), Math.min(idle / 2, 30_000)).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session, if it exists and belongs to this agent (anything else is indistinguishable from "not found"). */
  find(id: string, agentId: string): McpSession | undefined {
    const session = this.sessions.get(id);
    if (!session || session.agentId !== agentId) return undefined;
    this.sessions.delete(id);
    session.lastSeen = Date.now();
    this.sessions.set(id, session);
    return session;
  }

  /** A transport+server pair that becomes a session once the SDK has handled `initialize`. */
  async open(agentId: string): Promise<StreamableHTTPServerTransport> {
    const server = this.factory.create();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        while (this.sessions.size >= this.config.mcp.sessionMax) this.evictOldest();
        this.sessions.set(id, { id, agentId, transport, server, lastSeen: Date.now() });
        this.logger.info({ sessionId: id, agentId }, 'session opened');
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport;
  }

  async close(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    await session.server.close();
  }

  async sweep(now = Date.now()): Promise<void> {
    const cutoff = now - this.config.mcp.sessionIdleTimeoutMs;
    for (const session of [...this.sessions.values()]) {
      if (session.lastSeen > cutoff) break; // LRU order: the rest are newer
      this.logger.info({ sessionId: session.id }, 'session expired');
      await this.close(session.id);
    }
  }

  private evictOldest(): void {
    const oldest = this.sessions.keys().next().value;
    if (oldest === undefined) return;
    this.logger.warn({ sessionId: oldest }, 'session cap reached; closing least recently used session');
    void this.close(oldest);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }
}
