import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';

@Injectable()
export class MigrationsHealthIndicator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly indicator: HealthIndicatorService,
  ) {}

  async isApplied(key: string) {
    const check = this.indicator.check(key);
    try {
      // showMigrations() is true while any migration is pending.
      return (await this.dataSource.showMigrations()) ? check.down({ pending: true }) : check.up();
    } catch {
      return check.down({ error: 'cannot read migrations table' });
    }
  }
}
