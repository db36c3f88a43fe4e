import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import { isLogged } from './common/logging/request-logged.js';
import { outageLog } from './common/logging/outage-log.js';
import { AppModule } from './app.module.js';
import { BearerAuthHook } from './auth/bearer-auth.hook.js';
import { DEFAULT_RETRY_AFTER_SECONDS, errorBody } from './common/http-exception.filter.js';
import { OriginGuard } from './common/origin.guard.js';
import { installJsonBodyParser } from './common/request-view.js';
import { Lifecycle } from './health/lifecycle.service.js';
import { type AppConfig } from './config/app-config.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** How often Node looks for requests past their header or body timeout (Node's default is 30 s). */
const CHECK_TIMEOUTS_EVERY_MS = 1000;

/** Honours a well-formed `x-request-id` so a call can be traced across services; otherwise makes one. */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds and initialises the app (not yet listening). Used by main.ts and by every test. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const { headersMs, bodyMs, keepAliveMs } = config.http.timeouts;
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimit,
    genReqId: requestIdOf,
    // Slow clients must not hold connections: Node cuts a request whose headers, or whose whole (headers and body),
    // have not arrived in time with 408 (checked every CHECK_TIMEOUTS_EVERY_MS). It bounds the request's receipt
    // only, never the response, so event streams outlive it; they send heartbeats (MCP_SSE_HEARTBEAT_MS) so that
    // no proxy on the way cuts them as idle.
    requestTimeout: bodyMs,
    keepAliveTimeout: keepAliveMs,
    http: {
      headersTimeout: headersMs,
      requestTimeout: bodyMs,
      connectionsCheckingInterval: CHECK_TIMEOUTS_EVERY_MS,
    },
    // Our own shutdown answer below instead of Fastify's: with Retry-After, and JSON-RPC on the MCP route.
    return503OnClosing: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: true,
    abortOnError: false, // throw instead of process.exit: main.ts reports, tests see the error
    bodyParser: false, // JSON only, with our parser below
  });
  app.useLogger(app.get(Logger));
  const httpLogger = PinoLogger.root.child({ context: 'http' });
  const fastify = app.getHttpAdapter().getInstance();
  app.get(BearerAuthHook).install(fastify); // bearer token checked before any body is read (preParsing)
  let closing = false;
  fastify.addHook('preClose', async () => {
    closing = true;
    // Closing waits for every connection to end. Idle keep-alive connections are closed once, at the start; a
    // connection whose last request finishes later would otherwise linger until HTTP_KEEP_ALIVE_TIMEOUT_MS (72 s)
    // and hold up the exit. So keep closing the ones that have become idle until the server has closed.
    const server = fastify.server;
    const sweep = setInterval(() => server.closeIdleConnections(), 100).unref();
    server.once('close', () => clearInterval(sweep));
  });
  installJsonBodyParser(fastify);
  const originGuard = new OriginGuard(config);
  fastify
    // On the raw response so that hijacked replies (the MCP transport writes its own) carry it too.
    .addHook('onRequest', async (request, reply) => {
      reply.raw.setHeader('x-request-id', request.id);
    })
    // A request that arrives on an open connection while the server closes: this replica is going away, the
    // client should retry (the load balancer already sends new connections elsewhere).
    .addHook('onRequest', async (request, reply) => {
      if (!closing) return;
      const message = 'The server is shutting down; retry';
      return reply
        .code(503)
        .headers({ 'retry-after': String(DEFAULT_RETRY_AFTER_SECONDS), connection: 'close' })
        .send(errorBody(request, 503, 'SHUTTING_DOWN', message));
    })
    // Origin/Host (DNS rebinding, 403) before anything else looks at the request, authentication included.
    .addHook('onRequest', async (request) => originGuard.check(request))
    // Requests that never reached a handler (refused by a guard, unmatched, bad body) are logged here; the
    // HTTP timing interceptor logs the rest. Health probes are not logged.
    .addHook('onResponse', async (request, reply) => {
      if (isLogged(request.raw) || request.routeOptions.url?.startsWith('/health')) return;
      const status = reply.statusCode;
      const line = {
        requestId: request.id,
        method: request.method,
        url: request.url.split('?')[0], // a token sent in the query string must not reach the log
        status,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      };
      // A 503 is an outage or a drain (its cause is logged by the filter): one line per interval (OutageLog).
      if (status === 503) outageLog.warnOnce(httpLogger, 'HTTP 503', 'http request', line);
      else if (status >= 500) httpLogger.error(line, 'http request');
      else if (status >= 400) httpLogger.warn(line, 'http request');
      else httpLogger.info(line, 'http request');
    });
  const openApi = new DocumentBuilder()
    .setTitle('mcp-production admin API')
    .setDescription('Operator REST API: bearer scope `mcp:admin` (GET routes: or `mcp:admin:read`).')
    .addBearerAuth()
    .build();
  // The OpenAPI JSON at /docs (no bundled UI: paste the URL into any OpenAPI viewer).
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), {
    ui: false,
    raw: ['json'],
    jsonDocumentUrl: 'docs',
  });
  await app.init();
  return app;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness turns 503 at once, new traffic keeps being served for
 * `SHUTDOWN_DRAIN_DELAY_MS` (while the load balancer notices), then the listener closes, in-flight calls finish,
 * shutdown hooks flush the audit queue and close pools, and the process exits 0 — or 1 after the grace period.
 */
export function shutdownOnSignals(app: NestFastifyApplication, config: AppConfig): void {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    const logger = app.get(Logger);
    logger.log(`${signal} received: draining`, 'shutdown');
    app.get(Lifecycle).beginDrain();
    const { drainDelayMs, graceMs } = config.shutdown;
    setTimeout(() => {
      logger.error(`still busy after ${graceMs} ms of grace: exiting`, undefined, 'shutdown');
      process.exit(1);
    }, drainDelayMs + graceMs).unref();
    await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    await app.close();
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => void shutdown(signal));
}
