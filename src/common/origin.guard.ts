import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from './domain-error.js';
import { isMcpRoute } from './mcp-route.js';

/**
 * DNS-rebinding protection for the MCP endpoint (MCP transport spec: servers MUST validate Origin). Run as the
 * first `onRequest` hook (app.factory.ts), not as a Nest guard: it must answer before anything else does (the
 * authentication hook, body parsing), so a hostile page gets 403 without learning anything about auth and
 * without us reading its body.
 */
export class OriginGuard {
  private readonly origins: Set<string>;
  private readonly hosts: Set<string>;

  constructor(config: AppConfig) {
    this.origins = new Set([new URL(config.http.publicUrl).origin, ...config.http.allowedOrigins]);
    this.hosts = new Set(config.http.allowedHosts.map((h) => h.toLowerCase()));
  }

  /** Throws FORBIDDEN_HOST / FORBIDDEN_ORIGIN for a request on the MCP route the policy refuses. */
  check(request: Pick<FastifyRequest, 'headers' | 'routeOptions'>): void {
    // Only the MCP endpoint is browser-reachable with ambient trust; probes send arbitrary Host headers.
    if (!isMcpRoute(request)) return;
    const { headers } = request;
    if (!this.hosts.has('*') && !this.hosts.has(hostnameOf(headers.host))) {
      throw new DomainError('FORBIDDEN_HOST', 'Host header not allowed');
    }
    const origin = headers.origin;
    if (origin !== undefined && !this.origins.has('*') && !this.origins.has(origin)) {
      throw new DomainError('FORBIDDEN_ORIGIN', 'Origin not allowed');
    }
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
