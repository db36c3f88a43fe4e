import { Global, Module } from '@nestjs/common';
import { AuthFailures } from '../common/auth-failures.js';
import { HttpTimingInterceptor } from './http-timing.interceptor.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { Tracing } from './tracing.js';

/**
 * Metrics (prom-client, one registry per app instance), `GET /metrics`, the HTTP timing interceptor and
 * OpenTelemetry tracing. Global: any module records through `MetricsService`.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [
    MetricsService,
    { provide: AuthFailures, useExisting: MetricsService },
    Tracing,
    HttpTimingInterceptor,
  ],
  exports: [MetricsService, AuthFailures, Tracing, HttpTimingInterceptor],
})
export class MetricsModule {}
