import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BearerAuthGuard } from './bearer-auth.guard.js';
import { isPublicRoute } from './public.decorator.js';

/** Key in a Fastify route's config: present (`true`) on every Nest route that needs a bearer token. */
const NEEDS_BEARER = 'needsBearerToken';

/**
 * Authentication before the body (issue #15 class 6): a request without a valid bearer token is refused before
 * its body is read, so an unauthenticated client cannot make the server wait for (or buffer) a body.
 *
 * - Which routes: Fastify's `preParsing` hook knows only the matched Fastify route, not the Nest handler, so
 *   `install` marks every Nest controller route that is not `@Public()` in its Fastify route config (the same
 *   `@Public()` rule the guard applies: method, then controller). Routes Nest does not serve (the OpenAPI
 *   document, 404s) carry no mark and, as before, no authentication.
 * - What: `BearerAuthGuard.verifyAhead` (credentials, signature, claims; not the revocation list, which admission
 *   reads with a tools/call's grant and so needs the body). The guard takes the outcome over: one verification.
 * - The answer: a refused request's body is replaced by an empty one and never read from the socket; the request
 *   then goes through the guards as always, so it gets the very same answer in the very same order (Origin/Host
 *   403 first, then the 401 or 503 with its challenge), only without waiting for its body.
 */
@Injectable()
export class BearerAuthHook {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly guard: BearerAuthGuard,
  ) {}

  /** Call once, before `app.init()` (which registers the routes with Fastify, reading their config). */
  install(fastify: FastifyInstance): void {
    this.markRoutes();
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      if (!needsBearer(request)) return payload;
      return (await this.guard.verifyAhead(request)) ? payload : unreadBody(request);
    });
  }

  private markRoutes(): void {
    const scanner = new MetadataScanner();
    for (const { metatype } of this.discovery.getControllers()) {
      if (typeof metatype !== 'function') continue;
      const prototype = metatype.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function' || !Reflect.hasMetadata(PATH_METADATA, handler)) continue;
        if (isPublicRoute(this.reflector, handler, metatype)) continue;
        const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as object;
        Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [NEEDS_BEARER]: true }, handler);
      }
    }
  }
}

function needsBearer(request: FastifyRequest): boolean {
  const config: object | undefined = request.routeOptions.config;
  return (config as Record<string, unknown> | undefined)?.[NEEDS_BEARER] === true;
}

/**
 * Stands in for a body that is not going to be read: empty. Fastify compares the bytes it read with the declared
 * Content-Length (a mismatch is a 400), so the stand-in reports the declared length as read. Node discards the
 * real body after the answer (or the body timeout cuts the connection).
 */
function unreadBody(request: FastifyRequest): Readable {
  const empty = Readable.from([]) as Readable & { receivedEncodedLength?: number };
  empty.receivedEncodedLength = Number(request.headers['content-length']) || 0;
  return empty;
}
