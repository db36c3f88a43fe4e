import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { PinoLogger } from 'nestjs-pino';
import { lastValueFrom, of } from 'rxjs';
import type { DataSource } from 'typeorm';
import type { AuditService } from '../audit/audit.service.js';
import { isLogged } from '../common/logging/request-logged.js';
import { loadConfig } from '../config/app-config.js';
import { HttpTimingInterceptor } from './http-timing.interceptor.js';
import { MetricsService } from './metrics.service.js';
import { Tracing } from './tracing.js';

/** Records what the interceptor logs. */
class RecordingLogger {
  readonly lines: { fields: Record<string, unknown>; msg: string }[] = [];
  setContext(): void {}
  info(fields: Record<string, unknown>, msg: string): void {
    this.lines.push({ fields, msg });
  }
}

function httpContext(url: string, route: string | undefined) {
  const raw = Object.assign(new EventEmitter(), { statusCode: 200 });
  const req = {
    method: 'POST',
    url,
    id: 'req-42',
    headers: {},
    routeOptions: { url: route },
    raw: {} as IncomingMessage,
  };
  const context = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({ raw }) }),
  } as unknown as ExecutionContext;
  return { context, raw, req };
}

describe('HttpTimingInterceptor', () => {
  const audit = { onFlush: () => undefined, queueDepth: 0 } as unknown as AuditService;
  let metrics: MetricsService;
  let logger: RecordingLogger;
  let interceptor: HttpTimingInterceptor;
  const next: CallHandler = { handle: () => of('handled') };

  beforeEach(() => {
    metrics = new MetricsService({ driver: {} } as DataSource, audit);
    logger = new RecordingLogger();
    interceptor = new HttpTimingInterceptor(
      metrics,
      new Tracing(loadConfig({})),
      logger as unknown as PinoLogger,
    );
  });

  it('logs one line when the response finishes, with method, route, status, duration and request id', async () => {
    const { context, raw, req } = httpContext('/mcp?x=1', '/mcp');
    expect(await lastValueFrom(interceptor.intercept(context, next))).toBe('handled');
    expect(isLogged(req.raw)).toBe(true); // so the app's onResponse hook does not log it a second time
    expect(logger.lines).toHaveLength(0); // the MCP transport writes the response after the handler returns
    raw.statusCode = 202;
    raw.emit('finish');
    raw.emit('close');
    expect(logger.lines).toEqual([
      {
        msg: 'http request',
        fields: {
          method: 'POST',
          route: '/mcp',
          status: 202,
          durationMs: expect.any(Number),
          requestId: 'req-42',
        },
      },
    ]);
    const exposition = await metrics.metrics();
    expect(exposition).toContain(
      'mcp_http_request_duration_seconds_count{method="POST",route="/mcp",status="202"} 1',
    );
  });

  it('times health probes without logging them', async () => {
    const { context, raw } = httpContext('/health/live', '/health/live');
    await lastValueFrom(interceptor.intercept(context, next));
    raw.emit('finish');
    expect(logger.lines).toHaveLength(0);
    expect(await metrics.metrics()).toContain('route="/health/live",status="200"} 1');
  });
});
