import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { PinoLogger } from 'nestjs-pino';
import { isProtocolError, jsonRpcCodeOf } from '../tools/tool-errors.js';
import { ToolInvoker } from '../tools/tool-invoker.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { clientChannel, LogLevelState } from '../tools/client-channel.js';
import { FEATURE_CAPABILITIES, McpFeatureHandlers } from './feature-handlers.service.js';
import type { Principal, ToolDefinition } from '../tools/tool.types.js';

export const SERVER_INFO = { name: 'mcp-production', version: '0.1.0' };

/**
 * `tools/call` registered with a loose envelope instead of CallToolRequestSchema: the SDK's base Protocol parses
 * a request with the schema given here and answers a mismatch (e.g. `arguments` that is not an object) with
 * -32603 Internal error; its Server then checks CallToolRequestSchema itself and answers -32602 Invalid params,
 * the right answer to a caller's malformed request.
 */
const CALL_TOOL_ENVELOPE = z.looseObject({ method: z.literal('tools/call') });

/** What the HTTP layer hands the SDK for each request (as `req.auth`); handlers read it from `extra.authInfo`. */
export interface RequestIdentity {
  principal: Principal;
  requestId: string;
  remoteAddr?: string;
  userAgent?: string;
}

export function authInfoFor(identity: RequestIdentity): AuthInfo {
  // The bearer token itself never travels past the auth guard.
  return {
    token: '',
    clientId: identity.principal.clientId ?? identity.principal.agentId,
    scopes: [...identity.principal.scopes],
    extra: { identity },
  };
}

/**
 * Builds SDK `Server`s wired to the tool registry and invoker. Everything expensive (tool descriptors, the JSON
 * Schema validator) is built once here; a server per stateless request or per session is then cheap.
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

  create(): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: false }, ...FEATURE_CAPABILITIES },
      jsonSchemaValidator: this.validator,
    });
    // Resources, prompts, completions, logging/setLevel (the level also filters tools' ctx.log()).
    const logLevel = new LogLevelState();
    this.features.install(server, logLevel);

    // An agent sees exactly the tools it may call now, decided by the same policy as tools/call.
    server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
      const { principal } = identityOf(extra.authInfo);
      const callable = await this.invoker.callableTools(principal);
      return { tools: callable.map((tool) => this.toolDescriptors().get(`${tool.name}@${tool.version}`)!) };
    });

    server.setRequestHandler(CALL_TOOL_ENVELOPE, async (envelope, extra) => {
      // The SDK's Server has checked it against CallToolRequestSchema (-32602 if not) before calling this.
      const request = envelope as unknown as CallToolRequest;
      const { principal, requestId, remoteAddr, userAgent } = identityOf(extra.authInfo);
      const { name, arguments: args, _meta } = request.params;
      try {
        return await this.invoker.invoke(
          { name, arguments: args, meta: _meta },
          {
            principal,
            requestId,
            sessionId: extra.sessionId,
            remoteAddr,
            userAgent,
            signal: extra.signal,
            logger: this.logger.logger.child({ requestId, agentId: principal.agentId, tool: name }),
            ...clientChannel(server, extra, logLevel),
          },
        );
      } catch (error) {
        if (isProtocolError(error)) {
          throw new McpError(jsonRpcCodeOf(error), error.message, { code: error.code, ...error.details });
        }
        throw error;
      }
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
    ...(tool.outputJsonSchema && { outputSchema: tool.outputJsonSchema as Tool['outputSchema'] }),
    ...(tool.annotations && { annotations: tool.annotations }),
    _meta: {
      'mcp-production/version': tool.version,
      ...(versions.length > 1 && { 'mcp-production/versions': versions }),
      ...(deprecated && { 'mcp-production/deprecated': deprecated }),
    },
  };
}

function identityOf(authInfo: AuthInfo | undefined): RequestIdentity {
  const identity = authInfo?.extra?.identity as RequestIdentity | undefined;
  // The controller always attaches one; reaching here without it is a wiring bug, not a client error.
  if (!identity) throw new McpError(ErrorCode.InternalError, 'Request identity missing');
  return identity;
}
