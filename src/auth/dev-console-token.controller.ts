import { isIP } from 'node:net';
import { Controller, Header, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/domain-error.js';
import { DevAuthService } from './dev-auth.service.js';
import { mintDevToken } from './dev-keys.js';
import { Public } from './public.decorator.js';
import { ADMIN_SCOPE } from './scopes.js';

/** The agent id of one-click console tokens (the `grantedBy` of what the console does with one). */
export const DEV_CONSOLE_AGENT = 'dev-admin';
const TTL_SECONDS = 3600;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * `POST /dev-auth/console-token`: the admin console's one-click sign-in under dev auth — an `mcp:admin` token for
 * whoever sits at this machine. Only then: it answers 404 unless dev auth is on (never with AUTH_ISSUER, never in
 * production), and only to a client connected from loopback (the socket's address, no forwarding header) that
 * names a loopback Host (a DNS-rebound page names its own) and, if it sends an Origin, that same origin.
 */
@Public()
@Controller('dev-auth')
export class DevConsoleTokenController {
  constructor(
    private readonly devAuth: DevAuthService,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('auth');
  }

  @Post('console-token')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  async mint(@Req() req: FastifyRequest) {
    if (!this.devAuth.enabled || !isLoopback(req.raw.socket.remoteAddress)) {
      throw new DomainError('NOT_FOUND', 'Not found');
    }
    const host = req.headers.host ?? '';
    if (!LOOPBACK_HOSTS.has(hostnameOf(host))) {
      throw new DomainError('FORBIDDEN_HOST', 'The dev console token is served on a loopback host name only');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && hostOf(origin) !== host.toLowerCase()) {
      throw new DomainError('FORBIDDEN_ORIGIN', 'The dev console token is served to its own origin only');
    }
    const token = await mintDevToken(this.config.auth, this.devAuth.key, {
      agent: DEV_CONSOLE_AGENT,
      scopes: [ADMIN_SCOPE],
      ttlSeconds: TTL_SECONDS,
    });
    this.logger.warn(
      { agent: DEV_CONSOLE_AGENT },
      'dev auth: minted an admin console token for a loopback client',
    );
    return { access_token: token, token_type: 'Bearer', expires_in: TTL_SECONDS, scope: ADMIN_SCOPE };
  }
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(address) === 6 && new URL(`http://[${address}]`).hostname === '[::1]';
}

function hostnameOf(host: string): string {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return '';
  }
}
