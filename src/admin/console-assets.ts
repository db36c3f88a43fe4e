import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config.js';

export const CONSOLE_PREFIX = '/admin/console/';

/**
 * The console's files (`console/` in the repository: plain ES modules, CSS and HTML, served as they are). From
 * `src/admin` that is `../../console`; from `dist/src/admin` it is `dist/console`, where `npm run build` copies them.
 */
const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** How the console signs in (`GET /admin/console/config.json`): nothing secret, so public. */
export type ConsoleSignIn =
  | { signIn: 'dev' }
  | { signIn: 'none' }
  | {
      signIn: 'oauth';
      issuer: string;
      clientId: string;
      scope: string;
      /** RFC 8707 resource indicator: the audience this service accepts. */
      resource: string;
      redirectUri: string;
    };

export function consoleSignIn(config: AppConfig): ConsoleSignIn {
  if (config.auth.mode === 'dev') return { signIn: 'dev' };
  if (!config.console.clientId) return { signIn: 'none' };
  return {
    signIn: 'oauth',
    issuer: config.auth.issuer,
    clientId: config.console.clientId,
    scope: config.console.scope,
    resource: config.auth.audiences[0],
    redirectUri: `${config.http.publicUrl}${CONSOLE_PREFIX}`,
  };
}

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline ones, so injected markup
 * cannot run), and network access to this service plus the IdP (discovery and token endpoint of the PKCE flow).
 */
export function consoleCsp(config: AppConfig): string {
  const idp = config.auth.mode === 'external' ? ` ${new URL(config.auth.issuer).origin}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${idp}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The console's files by name, read once at boot (a few small files). */
interface ConsoleFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page, its modules, styles and icon; nothing else in the folder (its tsconfig, type declarations). */
function readConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type || name.endsWith('.d.ts')) continue;
    const body = readFileSync(join(dir, name));
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url')}"` });
  }
  return files;
}

/**
 * Serves the admin console at `/admin/console/` from this service: same origin as the admin API it calls with a
 * bearer token (no cookies). Plain Fastify routes, not Nest ones: public static files, outside the admin API.
 * Names map to the files read at boot, so no request path ever reaches the file system.
 */
@Injectable()
export class ConsoleAssets implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const headers = {
      'content-security-policy': consoleCsp(this.config),
      // The OAuth `code` is in the URL until the console removes it: never send it on in a Referer.
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'cross-origin-opener-policy': 'same-origin',
    };
    const signIn = consoleSignIn(this.config);
    const files = readConsoleFiles(CONSOLE_DIR);
    const serve = (name: string, request: FastifyRequest, reply: FastifyReply) => {
      const file = files.get(name);
      if (!file) return reply.callNotFound();
      reply.headers({ 'content-type': file.type, 'cache-control': 'no-cache', etag: file.etag });
      return request.headers['if-none-match'] === file.etag ? reply.code(304).send() : reply.send(file.body);
    };
    // Not awaited: Fastify loads the plugin when the server starts (as Nest's own useStaticAssets does).
    void fastify.register(async (scope) => {
      scope.addHook('onSend', async (_request, reply, payload) => {
        reply.headers(headers);
        return payload;
      });
      scope.get(CONSOLE_PREFIX.slice(0, -1), (_request, reply) => reply.redirect(CONSOLE_PREFIX, 301));
      scope.get(CONSOLE_PREFIX, (request, reply) => serve('index.html', request, reply));
      scope.get(`${CONSOLE_PREFIX}config.json`, (_request, reply) =>
        reply.header('cache-control', 'no-cache').send(signIn),
      );
      scope.get<{ Params: { file: string } }>(`${CONSOLE_PREFIX}:file`, (request, reply) =>
        serve(request.params.file, request, reply),
      );
    });
  }
}
