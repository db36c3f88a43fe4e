import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle } from './lifecycle.service.js';
import { MigrationsHealthIndicator } from './migrations.health.js';

/** Kubernetes probes. Not authenticated and not logged (see logger config). */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly migrations: MigrationsHealthIndicator,
    private readonly lifecycle: Lifecycle,
    private readonly config: AppConfig,
  ) {}

  /** Liveness: the event loop answers. Never depends on the database, so a DB outage does not restart pods. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Readiness: the database answers and every migration is applied, both within HEALTH_TIMEOUT_MS (checked side by
   * side), so that the probe answers — 503 when the database does not — within Kubernetes' 1 s probe timeout.
   * "Not ready" is an answer, not a failure of this request: it is sent here (with `Retry-After`), not thrown to the
   * exception filter, which would log every probe of an outage as an error.
   */
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const { timeoutMs } = this.config.health;
    try {
      if (this.lifecycle.draining) throw new ServiceUnavailableException({ status: 'draining' });
      return await this.health.check([
        () => this.db.pingCheck('database', { timeout: timeoutMs }),
        () => this.migrations.isApplied('migrations', timeoutMs),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503).header('retry-after', '1');
      return error.getResponse();
    }
  }
}
