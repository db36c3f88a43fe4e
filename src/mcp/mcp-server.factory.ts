import { Injectable } from '@nestjs/common';
import { Server, SUPPORTED_PROTOCOL_VERSIONS, type Tool } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { PinoLogger } from 'nestjs-pino';
import { ToolInvoker } from '../tools/tool-invoker.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { clientChannel, LogLevelState } from '../tools/client-channel.js';
import { FEATURE_CAPABILITIES, McpFeatureHandlers } from './feature-handlers.service.js';
import type { ToolDefinition } from '../tools/tool.types.js';
import { clientOf, identityOf } from './request-identity.js';
import { MODERN_PROTOCOL_VERSIONS } from '../common/request-view.js';

export const SERVER_INFO = { name: 'mcp-production', version: '0.1.0' };

/**
 * Builds SDK `Server`s wired to the tool registry and invoker, for both eras: the same handlers serve a
 * 2026-07-28 request (one server per request, from `createMcpHandler`) and a 2025 session or stateless request.
 * Everything expensive (tool descriptors, the JSON Schema validator) is built once here; a server is then cheap.
 */
@Injectable()
export class McpServerFactory {
  private readonly validator = new AjvJsonSchemaValidator();
  private descriptors?: Map<string, Tool>;

  constructor(
    private readonly registry: ToolRegistry,
    private readonly invoker: ToolInvoker,
    private readonly logger: PinoLogger,
    private readonly features: McpFeatureHandlers,
  ) {
    this.logger.setContext('mcp');
  }

  /**
   * `modern`: a server that connecting to a 2026-07-28 transport binds to that era (the shared hot path's; the
   * SDK handler adds these versions itself to the servers it makes per request).
   */
  create({ modern = false } = {}): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: true }, ...FEATURE_CAPABILITIES },
      jsonSchemaValidator: this.validator,
      ...(modern && {
        supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, ...MODERN_PROTOCOL_VERSIONS],
      }),
    });
    // Resources, prompts, completions, logging/setLevel (the level also filters tools' ctx.log()).
    const logLevel = new LogLevelState();
    this.features.install(server, logLevel);

    // An agent sees exactly the tools it may call now, decided by the same policy as tools/call.
    server.setRequestHandler('tools/list', async (_request, ctx) => {
      const { principal } = identityOf(ctx);
      const callable = await this.invoker.callableTools(principal);
      return { tools: callable.map((tool) => this.toolDescriptors().get(`${tool.name}@${tool.version}`)!) };
    });

    server.setRequestHandler('tools/call', (request, ctx) => {
      const { principal, admission, requestId, remoteAddr, userAgent } = identityOf(ctx);
      const { name, arguments: args, _meta } = request.params;
      const requestState = ctx.mcpReq.requestState<string>();
      // Errors are answered by the pipeline (mcpErrorAnswer): a tool result, or a thrown JSON-RPC error.
      return this.invoker.invoke(
        {
          name,
          arguments: args,
          meta: _meta,
          ...(ctx.mcpReq.inputResponses && { inputResponses: ctx.mcpReq.inputResponses }),
          ...(typeof requestState === 'string' && { requestState }),
        },
        {
          principal,
          admission,
          requestId,
          sessionId: ctx.sessionId,
          remoteAddr,
          userAgent,
          signal: ctx.mcpReq.signal,
          ...clientOf(server, ctx),
          logger: this.logger.logger.child({ requestId, agentId: principal.agentId, tool: name }),
          ...clientChannel(server, ctx, logLevel),
        },
      );
    });
    return server;
  }

  private toolDescriptors(): Map<string, Tool> {
    this.descriptors ??= new Map(
      this.registry.all().map((tool) => [
        `${tool.name}@${tool.version}`,
        describe(
          tool,
          this.registry.versionsOf(tool.name).map((v) => v.version),
        ),
      ]),
    );
    return this.descriptors;
  }
}

/**
 * A version's descriptor, listed under the plain name. `_meta` carries its version, every version a caller may
 * pin (with `_meta["mcp-production/version"]` on `tools/call`), and for a deprecated version
 * `{ sunset, replacement }` (also said in the description).
 */
function describe(tool: ToolDefinition, versions: string[]): Tool {
  const deprecated = tool.deprecated && {
    sunset: tool.deprecated.sunset,
    replacement: tool.deprecated.replacement,
  };
  return {
    name: tool.name,
    ...(tool.title && { title: tool.title }),
    description: deprecated
      ? `${tool.description} (Deprecated: stops working on ${deprecated.sunset}; use ${deprecated.replacement}.)`
      : tool.description,
    inputSchema: tool.inputJsonSchema as Tool['inputSchema'],
    ...(tool.outputJsonSchema && { outputSchema: tool.outputJsonSchema }),
    ...(tool.annotations && { annotations: tool.annotations }),
    _meta: {
      'mcp-production/version': tool.version,
      ...(versions.length > 1 && { 'mcp-production/versions': versions }),
      ...(deprecated && { 'mcp-production/deprecated': deprecated }),
    },
  };
}
