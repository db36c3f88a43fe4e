import { Controller, Delete, Get, Post, Req, Res } from '@nestjs/common';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/domain-error.js';
import { principalOf } from '../common/principal.js';
import { authInfoFor, McpServerFactory } from './mcp-server.factory.js';
import { SessionRegistry } from './session-registry.service.js';

const SESSION_HEADER = 'mcp-session-id';

/**
 * `/mcp`: MCP Streamable HTTP. Guards (origin, auth, scope) have run before a handler here; the handler then
 * hands the raw request to the SDK transport. Stateless mode builds a server per request (cheap: see
 * McpServerFactory); stateful mode routes by `Mcp-Session-Id`.
 */
@Controller('mcp')
export class McpController {
  constructor(
    private readonly config: AppConfig,
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionRegistry,
  ) {}

  @Post()
  async post(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (this.config.mcp.sessionMode === 'stateless') return this.handleStateless(req, reply);
    const transport = this.sessionTransport(req) ?? (await this.openSession(req));
    return this.handle(transport, req, reply);
  }

  @Get()
  async get(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.handleInSession(req, reply);
  }

  @Delete()
  async delete(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.handleInSession(req, reply);
  }

  private async handleStateless(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const server = this.factory.create();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    reply.raw.on('close', () => void server.close());
    await server.connect(transport);
    return this.handle(transport, req, reply);
  }

  private async handleInSession(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (this.config.mcp.sessionMode === 'stateless') {
      // No sessions and no server-initiated stream in stateless mode.
      reply
        .status(405)
        .header('allow', 'POST')
        .send({
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Method not allowed: this server is stateless (POST only)' },
          id: null,
        });
      return;
    }
    const transport = this.sessionTransport(req);
    if (!transport) throw new DomainError('INVALID_REQUEST', 'Mcp-Session-Id header is required');
    return this.handle(transport, req, reply);
  }

  /** The transport of the session named by the header; 404 when it is unknown, expired or another agent's. */
  private sessionTransport(req: FastifyRequest): StreamableHTTPServerTransport | undefined {
    const id = req.headers[SESSION_HEADER];
    if (id === undefined) return undefined;
    const session = typeof id === 'string' ? this.sessions.find(id, principalOf(req).agentId) : undefined;
    if (!session) throw new DomainError('SESSION_NOT_FOUND', 'Session not found');
    return session.transport;
  }

  private async openSession(req: FastifyRequest): Promise<StreamableHTTPServerTransport> {
    if (!isInitializeRequest(req.body)) {
      throw new DomainError(
        'INVALID_REQUEST',
        'Mcp-Session-Id header is required (only initialize may omit it)',
      );
    }
    return this.sessions.open(principalOf(req).agentId);
  }

  private async handle(transport: StreamableHTTPServerTransport, req: FastifyRequest, reply: FastifyReply) {
    const raw = req.raw as IncomingMessage & { auth?: ReturnType<typeof authInfoFor> };
    raw.auth = authInfoFor({ principal: principalOf(req), requestId: String(req.id) });
    reply.hijack();
    await transport.handleRequest(raw, reply.raw, req.body);
  }
}
