import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';

@Injectable()
export class MigrationsHealthIndicator {
  /** Once every migration of this build is applied, it stays so: later probes need not ask again. */
  private applied = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly indicator: HealthIndicatorService,
  ) {}

  /** Up when every migration is applied; down when one is pending or the answer does not come within `timeoutMs`. */
  isApplied(key: string, timeoutMs: number) {
    const check = this.indicator.check(key);
    if (this.applied) return check.up();
    return check
      .attempt(async () => {
        // showMigrations() is true while any migration is pending.
        if (await this.dataSource.showMigrations()) throw new Error('migrations pending');
        this.applied = true;
      })
      .withTimeout(timeoutMs);
  }
}
