import { Counter, Histogram, Registry } from 'prom-client';
import type { MetricsService } from '../metrics/metrics.service.js';
import { MetricsSummary, quantileMs } from './metrics-summary.service.js';

/** The tool-call metrics as MetricsService registers them, in a registry of the test's own. */
function metrics() {
  const registry = new Registry();
  const calls = new Counter({
    name: 'mcp_tool_calls_total',
    help: 'h',
    labelNames: ['tool', 'version', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mcp_tool_call_duration_seconds',
    help: 'h',
    labelNames: ['tool', 'outcome'],
    buckets: [0.01, 0.1, 1],
    registers: [registry],
  });
  const call = (tool: string, outcome: string, seconds: number) => {
    calls.inc({ tool, version: '1.0.0', outcome });
    duration.observe({ tool, outcome }, seconds);
  };
  return { service: new MetricsSummary({ registry } as unknown as MetricsService), call };
}

describe('MetricsSummary', () => {
  it('turns counter and histogram deltas into per-interval rates, error rate, denials and quantiles', async () => {
    const { service, call } = metrics();
    await service.sample(0);
    for (let i = 0; i < 8; i++) call('echo', 'success', 0.005); // 8 fast calls
    call('echo', 'tool_error', 0.5);
    call('echo', 'denied_grant', 0.005);
    await service.sample(5000);
    call('state.get', 'success', 0.05);

    const summary = await service.summary(10_000);
    expect(summary.scope).toBe('replica');
    expect(summary.tools.map((t) => t.tool)).toEqual(['echo', 'state.get']);
    const [echo, state] = summary.tools;
    expect(echo.totals).toEqual({ calls: 10, errors: 1, denials: 1 });
    expect(echo.points).toEqual([
      {
        at: new Date(5000).toISOString(),
        seconds: 5,
        callsPerSecond: 2,
        errorRate: 0.1,
        denialsPerSecond: 0.2,
        p50Ms: 5.556, // rank 5 of 10, the 9 first in (0, 10 ms]: 10 ms × 5/9, linear within the bucket
        p99Ms: 1000 - (1000 - 100) * (1 - 0.9), // rank 9.9 of 10 in (100 ms, 1 s]
      },
      // Nothing in the last (partial) interval: no error rate, no latency.
      expect.objectContaining({ seconds: 5, callsPerSecond: 0, errorRate: null, p50Ms: null, p99Ms: null }),
    ]);
    expect(state.points.map((p) => p.callsPerSecond)).toEqual([0, 0.2]);
  });

  it('counts a round that asked the client for input as a call, not an error', async () => {
    const { service, call } = metrics();
    call('conformance.elicit', 'input_required', 0.005);
    call('conformance.elicit', 'success', 0.005);
    expect((await service.summary(1000)).tools[0].totals).toEqual({ calls: 2, errors: 0, denials: 0 });
  });

  it('leaves out a partial interval shorter than a second, unless it is the only one', async () => {
    const { service, call } = metrics();
    await service.sample(0);
    call('echo', 'success', 0.005);
    expect((await service.summary(200)).tools[0].points).toMatchObject([{ seconds: 0.2, callsPerSecond: 5 }]);
    await service.sample(5000);
    expect((await service.summary(5500)).tools[0].points).toHaveLength(1);
    expect((await service.summary(6000)).tools[0].points).toHaveLength(2);
  });

  it('keeps five minutes of intervals', async () => {
    const { service, call } = metrics();
    call('echo', 'success', 0.005);
    for (let i = 0; i <= 100; i++) await service.sample(i * 5000);
    expect((await service.summary(100 * 5000)).tools[0].points).toHaveLength(60);
  });
});

describe('quantileMs', () => {
  it('is null without observations and the highest finite bound past it', () => {
    expect(quantileMs(0.5, [])).toBeNull();
    expect(
      quantileMs(0.5, [
        [0.1, 0],
        [Infinity, 0],
      ]),
    ).toBeNull();
    expect(
      quantileMs(0.99, [
        [0.1, 0],
        [1, 1],
        [Infinity, 100],
      ]),
    ).toBe(1000);
  });
});
