import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import { isLogged } from './common/logging/request-logged.js';
import { AppModule } from './app.module.js';
import { DomainError } from './common/domain-error.js';
import { Lifecycle } from './health/lifecycle.service.js';
import { type AppConfig } from './config/app-config.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Honours a well-formed `x-request-id` so a call can be traced across services; otherwise makes one. */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds and initialises the app (not yet listening). Used by main.ts and by every test. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimit,
    genReqId: requestIdOf,
    // The SDK transport serves its own SSE streams; Fastify must not time them out.
    requestTimeout: 0,
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: true,
    abortOnError: false, // throw instead of process.exit: main.ts reports, tests see the error
    bodyParser: false, // JSON only, with our parser below
  });
  app.useLogger(app.get(Logger));
  const httpLogger = PinoLogger.root.child({ context: 'http' });
  const fastify = app.getHttpAdapter().getInstance();
  // Our own JSON parser so that a malformed body is a JSON-RPC parse error (-32700), not a generic 400.
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch {
      done(new DomainError('PARSE_ERROR', 'Body is not valid JSON'), undefined);
    }
  });
  app
    .getHttpAdapter()
    .getInstance()
    // On the raw response so that hijacked replies (the MCP transport writes its own) carry it too.
    .addHook('onRequest', async (request, reply) => {
      reply.raw.setHeader('x-request-id', request.id);
    })
    // Requests that never reached a handler (refused by a guard, unmatched, bad body) are logged here; the
    // HTTP timing interceptor logs the rest. Health probes are not logged.
    .addHook('onResponse', async (request, reply) => {
      if (isLogged(request.raw) || request.url.startsWith('/health')) return;
      const status = reply.statusCode;
      const line = {
        requestId: request.id,
        method: request.method,
        url: request.url.split('?')[0], // a token sent in the query string must not reach the log
        status,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      };
      if (status >= 500) httpLogger.error(line, 'http request');
      else if (status >= 400) httpLogger.warn(line, 'http request');
      else httpLogger.info(line, 'http request');
    });
  const openApi = new DocumentBuilder()
    .setTitle('mcp-production admin API')
    .setDescription('Operator REST API. Every route needs a bearer token with scope `mcp:admin`.')
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
