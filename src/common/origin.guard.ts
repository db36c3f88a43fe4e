import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from './domain-error.js';

/**
 * DNS-rebinding protection for the MCP endpoint (MCP transport spec: servers MUST validate Origin). Runs before
 * authentication, so a hostile page gets 403 without learning anything about auth.
 */
@Injectable()
export class OriginGuard implements CanActivate {
  private readonly origins: Set<string>;
  private readonly hosts: Set<string>;

  constructor(config: AppConfig) {
    this.origins = new Set([new URL(config.http.publicUrl).origin, ...config.http.allowedOrigins]);
    this.hosts = new Set(config.http.allowedHosts.map((h) => h.toLowerCase()));
  }

  canActivate(context: ExecutionContext): boolean {
    const { headers, url } = context.switchToHttp().getRequest<FastifyRequest>();
    // Only the MCP endpoint is browser-reachable with ambient trust; probes send arbitrary Host headers.
    if (!url.startsWith('/mcp')) return true;
    if (!this.hosts.has('*') && !this.hosts.has(hostnameOf(headers.host))) {
      throw new DomainError('FORBIDDEN_HOST', 'Host header not allowed');
    }
    const origin = headers.origin;
    if (origin !== undefined && !this.origins.has('*') && !this.origins.has(origin)) {
      throw new DomainError('FORBIDDEN_ORIGIN', 'Origin not allowed');
    }
    return true;
  }
}

function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}
