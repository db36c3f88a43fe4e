import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { PinoLogger } from 'nestjs-pino';
import { isProtocolError } from '../tools/tool-errors.js';
import { ToolInvoker } from '../tools/tool-invoker.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import type { Principal, ToolDefinition } from '../tools/tool.types.js';

export const SERVER_INFO = { name: 'mcp-production', version: '0.1.0' };

/** What the HTTP layer hands the SDK for each request (as `req.auth`); handlers read it from `extra.authInfo`. */
export interface RequestIdentity {
  principal: Principal;
  requestId: string;
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
  ) {
    this.logger.setContext('mcp');
  }

  create(): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: false } },
      jsonSchemaValidator: this.validator,
    });

    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...this.toolDescriptors().values()] }));

    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { principal, requestId } = identityOf(extra.authInfo);
      const { name, arguments: args, _meta } = request.params;
      try {
        return await this.invoker.invoke(
          { name, arguments: args, meta: _meta },
          {
            principal,
            requestId,
            sessionId: extra.sessionId,
            signal: extra.signal,
            logger: this.logger.logger.child({ requestId, agentId: principal.agentId, tool: name }),
          },
        );
      } catch (error) {
        if (isProtocolError(error))
          throw new McpError(ErrorCode.InvalidParams, error.message, { code: error.code });
        throw error;
      }
    });
    return server;
  }

  private toolDescriptors(): Map<string, Tool> {
    this.descriptors ??= new Map(this.registry.all().map((tool) => [tool.name, describe(tool)]));
    return this.descriptors;
  }
}

function describe(tool: ToolDefinition): Tool {
  return {
    name: tool.name,
    ...(tool.title && { title: tool.title }),
    description: tool.description,
    inputSchema: tool.inputJsonSchema as Tool['inputSchema'],
    ...(tool.outputJsonSchema && { outputSchema: tool.outputJsonSchema as Tool['outputSchema'] }),
    ...(tool.annotations && { annotations: tool.annotations }),
    _meta: { 'mcp-production/version': tool.version },
  };
}

function identityOf(authInfo: AuthInfo | undefined): RequestIdentity {
  const identity = authInfo?.extra?.identity as RequestIdentity | undefined;
  // The controller always attaches one; reaching here without it is a wiring bug, not a client error.
  if (!identity) throw new McpError(ErrorCode.InternalError, 'Request identity missing');
  return identity;
}
