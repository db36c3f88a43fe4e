import { Controller, Delete, Get, Options, Patch, Post, Put, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE } from '../auth/scopes.js';
import { toolScope } from '../common/scopes.js';
import { AppConfig } from '../config/app-config.js';
import { PromptRegistry } from '../tools/prompt-registry.service.js';
import { ResourceRegistry } from '../tools/resource-registry.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';

const PATHS = ['oauth-protected-resource', 'oauth-protected-resource/mcp'];
const ALLOW = 'GET, HEAD, OPTIONS';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: ['header'];
  resource_name: string;
}

/**
 * RFC 9728 Protected Resource Metadata, how MCP clients find the authorization server and the scopes admission
 * asks for (one per tool, resource and prompt). Public, readable from any origin (it holds nothing secret), GET
 * only (RFC 9728 §3.1; other methods get 405).
 * - `/.well-known/oauth-protected-resource/mcp`: the document for the MCP endpoint `$PUBLIC_URL/mcp` (path
 *   insertion, RFC 9728 §3.1). 401 challenges point here.
 * - `/.well-known/oauth-protected-resource`: the root form for clients that ignore the challenge. RFC 9728 §3.3
 *   wants its `resource` to be the identifier the well-known segment was inserted into: the origin itself.
 */
@Public()
@Controller('.well-known')
export class ProtectedResourceController {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: ToolRegistry,
    private readonly resources: ResourceRegistry,
    private readonly prompts: PromptRegistry,
  ) {}

  @Get('oauth-protected-resource/mcp')
  forMcp(@Res({ passthrough: true }) reply: FastifyReply): ProtectedResourceMetadata {
    return this.document(reply, this.config.http.resource);
  }

  @Get('oauth-protected-resource')
  forRoot(@Res({ passthrough: true }) reply: FastifyReply): ProtectedResourceMetadata {
    return this.document(reply, this.config.http.publicUrl);
  }

  @Options(PATHS)
  preflight(@Res() reply: FastifyReply): void {
    reply
      .status(204)
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', ALLOW)
      .header('access-control-max-age', '86400')
      .send();
  }

  @Post(PATHS)
  post(@Res() reply: FastifyReply): void {
    methodNotAllowed(reply);
  }

  @Put(PATHS)
  put(@Res() reply: FastifyReply): void {
    methodNotAllowed(reply);
  }

  @Patch(PATHS)
  patch(@Res() reply: FastifyReply): void {
    methodNotAllowed(reply);
  }

  @Delete(PATHS)
  delete(@Res() reply: FastifyReply): void {
    methodNotAllowed(reply);
  }

  private document(reply: FastifyReply, resource: string): ProtectedResourceMetadata {
    reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300');
    return {
      resource,
      authorization_servers: [this.config.auth.issuer],
      scopes_supported: [
        ADMIN_SCOPE,
        ADMIN_READ_SCOPE,
        ...new Set(this.registry.all().map((tool) => toolScope(tool.name))),
        ...[...this.resources.fixed(), ...this.resources.templated()].map((r) => `resource:${r.name}`),
        ...this.prompts.all().map((p) => `prompt:${p.name}`),
      ],
      bearer_methods_supported: ['header'],
      resource_name: 'mcp-production',
    };
  }
}

function methodNotAllowed(reply: FastifyReply): void {
  reply.status(405).header('allow', ALLOW).send({
    statusCode: 405,
    code: 'METHOD_NOT_ALLOWED',
    message: 'Protected resource metadata is read with GET',
  });
}
