import { Controller, Delete, Get, OnApplicationShutdown, Post, Req, Res } from '@nestjs/common';
import { NodeStreamableHTTPServerTransport as StreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, SUPPORTED_PROTOCOL_VERSIONS, type AuthInfo } from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/domain-error.js';
import { MCP_ROUTE } from '../common/mcp-route.js';
import { principalOf } from '../common/principal.js';
import { requestViewOf, sdkMessageOf, type RequestView } from '../common/request-view.js';
import { ChangeFeed } from '../tools/change-feed.service.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { authInfoOf } from './request-identity.js';
import { SessionRegistry, type ResolvedSession } from './session-registry.service.js';
import { SharedServer } from './shared-server.service.js';

const SESSION_HEADER = 'mcp-session-id';
/**
 * JSON-RPC batches came with protocol 2025-03-26 and went with 2025-06-18. Versions are dates, so they compare as
 * strings; a request without the header is a 2025-03-26 one (transport spec: "assume 2025-03-26").
 */
const BATCHES_REMOVED_IN = '2025-06-18';

type NodeHandler = ReturnType<typeof toNodeHandler>;

/**
 * `/mcp`: MCP Streamable HTTP, both protocol eras on one endpoint. The Origin/Host hook and the global guards
 * (auth, request view, scope, rate limit) have run before a handler here; the request view says which era.
 * - 2026-07-28 (`_meta` envelope, `server/discover`): sessionless; a plain JSON call is served by the SharedServer
 *   hot path, anything else by the SDK v2 handler with a server per request.
 * - 2025 eras: `initialize` opens a session (sticky to this replica for its live stream and server→client
 *   requests; any replica serves its plain requests, the shared store vouches for it); a request naming a
 *   session goes to it; anything else is served statelessly (the SharedServer hot path, or a server per request).
 * `MCP_ERA` may restrict the endpoint to one era.
 */
@Controller(MCP_ROUTE)
export class McpController implements OnApplicationShutdown {
  /** 2026-07-28 requests: JSON unless the call emits something (then SSE), and one that streams from the start. */
  private readonly modern: ReturnType<typeof createMcpHandler>;
  private readonly modernStreaming: ReturnType<typeof createMcpHandler>;
  private readonly serveModern: NodeHandler;
  private readonly serveModernStreaming: NodeHandler;
  /** Open `subscriptions/listen` streams, each on a handler of its own (closed gracefully on shutdown). */
  private readonly listens = new Set<ReturnType<typeof createMcpHandler>>();

  constructor(
    private readonly config: AppConfig,
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionRegistry,
    private readonly shared: SharedServer,
    private readonly changes: ChangeFeed,
  ) {
    const options = {
      // The legacy lane is ours (sessions); a legacy request never reaches this handler in `dual` mode, and in
      // `modern` mode the handler's own refusal (400, -32022 naming 2026-07-28) is the right answer.
      legacy: 'reject',
      keepAliveMs: config.mcp.sseHeartbeatMs,
    } as const;
    this.modern = createMcpHandler(() => this.factory.create(), options);
    // A request with a progress token waits for notifications: it gets its event stream (and heartbeats) at
    // once, so a slow call is never a silent connection an idle proxy would cut.
    this.modernStreaming = createMcpHandler(() => this.factory.create(), { ...options, responseMode: 'sse' });
    this.serveModern = toNodeHandler(this.modern);
    this.serveModernStreaming = toNodeHandler(this.modernStreaming);
  }

  async onApplicationShutdown(): Promise<void> {
    const handlers = [this.modern, this.modernStreaming, ...this.listens];
    await Promise.all(handlers.map((handler) => handler.close()));
  }

  @Post()
  async post(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const era = this.config.mcp.era;
    // Every POST /mcp has its view (the one parse of the JSON-RPC envelope, src/common/request-view.ts).
    const view = requestViewOf(req)!;
    if (view.era === 'modern' || era === 'modern') {
      if (era === 'legacy') return refuseModern(reply, view.id);
      if (view.method === 'subscriptions/listen') return this.listen(req, reply, view);
      const streaming = view.progressToken !== undefined;
      const serve = () =>
        this.handleModern(streaming ? this.serveModernStreaming : this.serveModern, req, reply);
      if (view.era === 'modern' && this.shared.accepts(req, view))
        return this.shared.serve(req, reply, 'modern', { authInfo: authInfoOf(req) }, serve);
      return serve();
    }
    refuseRemovedBatch(req, view);
    const session = await this.resolveSession(req);
    if (session?.live) return this.handle(session.live.transport, req, reply);
    if (session) return this.handlePerRequest(req, reply);
    if (view.initialize) {
      const { protocolVersion, clientInfo } = view.initialize;
      return this.handle(
        await this.sessions.open(principalOf(req), { protocolVersion, clientInfo }),
        req,
        reply,
      );
    }
    if (this.shared.accepts(req, view))
      return this.shared.serve(req, reply, 'legacy', { authInfo: authInfoOf(req) }, () =>
        this.handlePerRequest(req, reply),
      );
    return this.handlePerRequest(req, reply);
  }

  /** A 2025 session's server→client stream lives where the session was opened; elsewhere there is none (405). */
  @Get()
  async get(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const session = await this.requireSession(req, reply);
    if (!session) return;
    if (session.live) return this.handle(session.live.transport, req, reply);
    methodNotAllowed(
      reply,
      'POST, DELETE',
      'The event stream of this session is served by the replica that opened it',
    );
  }

  @Delete()
  async delete(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const session = await this.requireSession(req, reply);
    if (!session) return;
    await this.sessions.close(req.headers[SESSION_HEADER] as string);
    reply.status(200).send();
  }

  /**
   * `subscriptions/listen`: the SDK fixes a handler's event bus when it creates it, so each stream gets a handler
   * whose bus is this agent's view of the cross-replica ChangeFeed (only what the agent may see).
   */
  private async listen(req: FastifyRequest, reply: FastifyReply, view: RequestView): Promise<void> {
    const listen = createMcpHandler(() => this.factory.create(), {
      legacy: 'reject',
      keepAliveMs: this.config.mcp.sseHeartbeatMs,
      bus: this.changes.agentBus(principalOf(req), view.resourceSubscriptions ?? []),
    });
    this.listens.add(listen);
    reply.raw.once('close', () => {
      this.listens.delete(listen);
      void listen.close();
    });
    return this.handleModern(toNodeHandler(listen), req, reply);
  }

  private async handleModern(serve: NodeHandler, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const raw = req.raw as IncomingMessage & { auth?: AuthInfo };
    raw.auth = authInfoOf(req);
    reply.hijack();
    await serve(raw, reply.raw, sdkMessageOf(req));
  }

  private async handlePerRequest(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const server = this.factory.create();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // JSON is cheapest, but a request asking for progress gets SSE so its notifications reach the client.
      enableJsonResponse: requestViewOf(req)?.progressToken === undefined,
      keepAliveMs: this.config.mcp.sseHeartbeatMs,
    });
    reply.raw.on('close', () => void server.close());
    await server.connect(transport);
    return this.handle(transport, req, reply);
  }

  /**
   * GET/DELETE belong to 2025 sessions: a header naming a live one goes to it; without sessions (`modern`) or
   * without the header there is nothing to GET or DELETE (405, as the 2026-07-28 transport says).
   */
  private async requireSession(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<ResolvedSession | undefined> {
    if (this.config.mcp.era === 'modern' || req.headers[SESSION_HEADER] === undefined) {
      methodNotAllowed(reply, 'POST', 'Method not allowed: GET and DELETE need a 2025 session (POST only)');
      return undefined;
    }
    return this.resolveSession(req);
  }

  /** The session named by the header; 404 when it is unknown, expired or another agent's. */
  private async resolveSession(req: FastifyRequest): Promise<ResolvedSession | undefined> {
    const id = req.headers[SESSION_HEADER];
    if (id === undefined) return undefined;
    const session =
      typeof id === 'string' ? await this.sessions.resolve(id, principalOf(req).agentId) : undefined;
    if (!session) throw new DomainError('SESSION_NOT_FOUND', 'Session not found');
    return session;
  }

  private async handle(transport: StreamableHTTPServerTransport, req: FastifyRequest, reply: FastifyReply) {
    const raw = req.raw as IncomingMessage & { auth?: AuthInfo };
    raw.auth = authInfoOf(req);
    reply.hijack();
    honourConnectionClose(req, reply);
    await transport.handleRequest(raw, reply.raw, sdkMessageOf(req));
  }
}

/**
 * The SDK transport answers with `Connection: keep-alive` on every event stream, even to a client that sent
 * `Connection: close`: once such an answer has ended, close the connection as that client asked.
 */
function honourConnectionClose(req: FastifyRequest, reply: FastifyReply): void {
  if (!/(^|,)\s*close\s*(,|$)/i.test(req.headers.connection ?? '')) return;
  const socket = req.raw.socket; // the response lets go of it when it finishes
  reply.raw.once('finish', () => socket.end());
}

/** A batch under a protocol version without batches: -32600 before the SDK (which accepts any batch) sees it. */
function refuseRemovedBatch(req: FastifyRequest, view: RequestView): void {
  const version = req.headers['mcp-protocol-version'];
  if (view.batch && typeof version === 'string' && version >= BATCHES_REMOVED_IN) {
    throw new DomainError(
      'INVALID_REQUEST',
      `JSON-RPC batches were removed in protocol version ${BATCHES_REMOVED_IN}: send one message per request`,
    );
  }
}

/** `MCP_ERA=legacy`: a 2026-07-28 request learns which versions to initialize with (400, -32022). */
function refuseModern(reply: FastifyReply, id: string | number | null | undefined): void {
  reply.status(400).send({
    jsonrpc: '2.0',
    id: id ?? null,
    error: {
      code: -32022,
      message: 'Unsupported protocol version: this endpoint serves the 2025 revisions (initialize first)',
      data: { supported: SUPPORTED_PROTOCOL_VERSIONS },
    },
  });
}

function methodNotAllowed(reply: FastifyReply, allow: string, message: string): void {
  reply
    .status(405)
    .header('allow', allow)
    .send({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}
