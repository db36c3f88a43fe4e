import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';
import { MetricsSummary, type MetricsSummaryView } from './metrics-summary.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@AdminScopes()
@Controller('admin/metrics')
export class MetricsSummaryController {
  constructor(private readonly summary: MetricsSummary) {}

  @Get('summary')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      "This replica's tool calls over the last minutes, per tool: calls/s, error rate, p50/p99 latency, denials/s " +
      '(the fleet view is Grafana)',
  })
  get(): Promise<MetricsSummaryView> {
    return this.summary.summary();
  }
}
