import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Observable } from 'rxjs';
import { markLogged } from '../common/logging/request-logged.js';
import { MetricsService } from './metrics.service.js';
import { Tracing } from './tracing.js';

/**
 * Times every HTTP request that reaches a route handler and logs one line when the response is finished
 * (method, route pattern, status, durationMs, requestId), records it in `mcp_http_request_duration_seconds`,
 * and, with tracing on, runs the handler inside a server span. It waits for the raw response to finish because
 * `/mcp` hands its reply to the MCP transport (hijacked), which writes it after the handler returns.
 * Requests refused by a guard never reach interceptors; pino-http's own request log still covers them.
 */
@Injectable()
export class HttpTimingInterceptor implements NestInterceptor {
  constructor(
    private readonly metrics: MetricsService,
    private readonly tracing: Tracing,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('http');
  }

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'http') return next.handle();
    const http = execution.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const started = performance.now();
    const method = req.method;
    const route = req.routeOptions?.url ?? 'unmatched';
    const span = this.tracing.startHttpSpan(`${method} ${route}`, req.headers, {
      'http.request.method': method,
      'http.route': route,
      'mcp.request_id': String(req.id),
    });
    let done = false;
    markLogged(req.raw);
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = (performance.now() - started) / 1000;
      const status = reply.raw.statusCode;
      span?.end({ 'http.response.status_code': status }, status >= 500);
      this.metrics.httpRequest(method, route, status, seconds);
      if (route.startsWith('/health')) return; // probes are not logged (see the logger config)
      this.logger.info(
        { method, route, status, durationMs: Math.round(seconds * 100_000) / 100, requestId: String(req.id) },
        'http request',
      );
    };
    reply.raw.once('finish', finish);
    reply.raw.once('close', finish);
    // Nest binds the handler to the async context current when handle() is called: the span's context.
    return span ? span.run(() => next.handle()) : next.handle();
  }
}
