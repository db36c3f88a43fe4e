import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/public.decorator.js';
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
  ) {}

  /** Liveness: the event loop answers. Never depends on the database, so a DB outage does not restart pods. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: the database answers and every migration is applied. */
  @Get('ready')
  @HealthCheck()
  ready() {
    if (this.lifecycle.draining) throw new ServiceUnavailableException({ status: 'draining' });
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 2000 }),
      () => this.migrations.isApplied('migrations'),
    ]);
  }
}
