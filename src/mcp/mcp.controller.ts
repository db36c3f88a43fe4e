import { Controller, Delete, Get, Post, Req, Res } from '@nestjs/common';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/domain-error.js';
import { MCP_ROUTE } from '../common/mcp-route.js';
import { principalOf } from '../common/principal.js';
import { authInfoFor, McpServerFactory } from './mcp-server.factory.js';
import { SessionRegistry, type ResolvedSession } from './session-registry.service.js';
import { SharedServer } from './shared-server.service.js';

const SESSION_HEADER = 'mcp-session-id';
/**
 * JSON-RPC batches came with protocol 2025-03-26 and went with 2025-06-18. Versions are dates, so they compare as
 * strings; a request without the header is a 2025-03-26 one (transport spec: "assume 2025-03-26").
 */
const BATCHES_REMOVED_IN = '2025-06-18';

/**
 * `/mcp`: MCP Streamable HTTP. The Origin/Host hook and the global guards (auth, scope, rate limit) have run
 * before a handler here. Stateless mode answers plain requests on the SharedServer and hands the rest to an SDK
 * transport with a server per request (cheap: see McpServerFactory). Stateful mode routes by `Mcp-Session-Id`:
 * the session's live transport when this replica opened it, otherwise a per-request server, since the shared
 * store vouches for the session.
 */
@Controller(MCP_ROUTE)
export class McpController {
  constructor(
    private readonly config: AppConfig,
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionRegistry,
    private readonly shared: SharedServer,
  ) {}

  @Post()
  async post(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    refuseRemovedBatch(req);
    if (this.config.mcp.sessionMode === 'stateless') {
      if (this.shared.accepts(req)) return this.shared.serve(req, reply, { authInfo: authOf(req) });
      return this.handlePerRequest(req, reply);
    }
    const session = await this.resolveSession(req);
    if (session?.live) return this.handle(session.live.transport, req, reply);
    if (session) return this.handlePerRequest(req, reply);
    if (!isInitializeRequest(req.body)) {
      throw new DomainError(
        'INVALID_REQUEST',
        'Mcp-Session-Id header is required (only initialize may omit it)',
      );
    }
    const { protocolVersion, clientInfo } = req.body.params;
    return this.handle(
      await this.sessions.open(principalOf(req).agentId, { protocolVersion, clientInfo }),
      req,
      reply,
    );
  }

  /** The server→client stream lives where the session was opened; elsewhere there is none to offer (405). */
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

  private async handlePerRequest(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const server = this.factory.create();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // JSON is cheapest, but a request asking for progress gets SSE so its notifications reach the client.
      enableJsonResponse: !wantsProgress(req.body),
      keepAliveMs: this.config.mcp.sseHeartbeatMs,
    });
    reply.raw.on('close', () => void server.close());
    await server.connect(transport);
    return this.handle(transport, req, reply);
  }

  /** For GET/DELETE: stateless mode has no sessions (405); a missing header is a 400. */
  private async requireSession(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<ResolvedSession | undefined> {
    if (this.config.mcp.sessionMode === 'stateless') {
      methodNotAllowed(reply, 'POST', 'Method not allowed: this server is stateless (POST only)');
      return undefined;
    }
    const session = await this.resolveSession(req);
    if (!session) throw new DomainError('INVALID_REQUEST', 'Mcp-Session-Id header is required');
    return session;
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
    raw.auth = authOf(req);
    reply.hijack();
    await transport.handleRequest(raw, reply.raw, req.body);
  }
}

/** Who is calling, as the SDK hands it to handlers (`extra.authInfo`). */
function authOf(req: FastifyRequest): AuthInfo {
  return authInfoFor({
    principal: principalOf(req),
    requestId: String(req.id),
    remoteAddr: req.ip,
    userAgent: req.headers['user-agent'],
  });
}

/** A batch under a protocol version without batches: -32600 before the SDK (which accepts any batch) sees it. */
function refuseRemovedBatch(req: FastifyRequest): void {
  const version = req.headers['mcp-protocol-version'];
  if (Array.isArray(req.body) && typeof version === 'string' && version >= BATCHES_REMOVED_IN) {
    throw new DomainError(
      'INVALID_REQUEST',
      `JSON-RPC batches were removed in protocol version ${BATCHES_REMOVED_IN}: send one message per request`,
    );
  }
}

function methodNotAllowed(reply: FastifyReply, allow: string, message: string): void {
  reply
    .status(405)
    .header('allow', allow)
    .send({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

/** Does a JSON-RPC body (one message or a batch) carry `params._meta.progressToken`? */
function wantsProgress(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((message) => {
    const meta = (message as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return meta?.progressToken !== undefined;
  });
}
