import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { checkModernRequest } from '../common/request-view.js';

/**
 * The protocol checks of a POST /mcp (SECURITY.md G row 6): a global guard after authentication, so an
 * unauthenticated client still gets the 401 that starts discovery, and before scopes, grants and rate limits, so
 * none of them is ever decided on a body that its headers contradict (F5: `Mcp-Name: other_tool` cannot
 * authorise a body that calls `search`). See `checkModernRequest` for what a 2026-07-28 request must carry.
 */
@Injectable()
export class RequestViewGuard implements CanActivate {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: ToolRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    checkModernRequest(
      req,
      this.config.mcp.era,
      (name, meta) => this.registry.resolve(name, meta)?.inputJsonSchema,
    );
    return true;
  }
}
