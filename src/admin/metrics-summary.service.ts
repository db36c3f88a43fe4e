import { hostname } from 'node:os';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';

/** How often the tool-call metrics are sampled, and how many intervals are kept (5 minutes). */
export const SAMPLE_EVERY_MS = 5000;
const KEEP_INTERVALS = 60;
/** A partial interval (last sample → now) shorter than this is left out once there is a full one: it is noise. */
const MIN_PARTIAL_MS = 1000;

const CALLS = 'mcp_tool_calls_total';
const DURATION = 'mcp_tool_call_duration_seconds';
/** Outcomes that are refusals (a denial), not failures of the tool. */
const DENIALS = new Set(['denied_scope', 'denied_grant', 'rate_limited']);
/** Outcomes that are not errors: done, or a round that asked the client for input. Any other is an error. */
const FINE = new Set(['success', 'input_required']);

interface Counts {
  calls: number;
  errors: number;
  denials: number;
  /** Cumulative histogram: upper bound (seconds, Infinity for +Inf) → calls at most that long. */
  buckets: Map<number, number>;
}

interface Sample {
  at: number;
  tools: Map<string, Counts>;
}

export interface SummaryPoint {
  /** End of the interval. */
  at: string;
  seconds: number;
  callsPerSecond: number;
  /** Errors / calls in the interval; null without calls. */
  errorRate: number | null;
  denialsPerSecond: number;
  /** Latency quantiles estimated from the histogram buckets (as Prometheus' histogram_quantile); null without calls. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface MetricsSummaryView {
  /** These are this replica's own metrics; the fleet view is Grafana (deploy/grafana). */
  scope: 'replica';
  replica: { hostname: string; pid: number; startedAt: string };
  intervalSeconds: number;
  tools: {
    tool: string;
    totals: { calls: number; errors: number; denials: number };
    points: SummaryPoint[];
  }[];
}

/**
 * The live view of the admin console: per tool, calls/s, error rate, p50/p99 latency and denials/s over the last
 * minutes, from this replica's own prom-client metrics (sampled every SAMPLE_EVERY_MS; nothing else is recorded).
 */
@Injectable()
export class MetricsSummary implements OnModuleInit, OnModuleDestroy {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  private readonly replica = {
    hostname: hostname(),
    pid: process.pid,
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };

  constructor(private readonly metrics: MetricsService) {}

  async onModuleInit(): Promise<void> {
    await this.sample();
    // A missed sample only widens the next interval: never an unhandled rejection.
    this.timer = setInterval(() => void this.sample().catch(() => undefined), SAMPLE_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Records the counters as they are now (the timer calls it; tests call it with their own clock). */
  async sample(at = Date.now()): Promise<void> {
    this.samples.push(await this.read(at));
    if (this.samples.length > KEEP_INTERVALS + 1) this.samples.shift();
  }

  async summary(at = Date.now()): Promise<MetricsSummaryView> {
    const now = await this.read(at);
    const last = this.samples.at(-1);
    // The partial interval (last sample → now) unless it is too short to say anything and a full one exists.
    const stale = last && at - last.at < MIN_PARTIAL_MS && this.samples.length > 1;
    const series = stale ? this.samples : [...this.samples, now];
    const names = [...now.tools.keys()].sort();
    return {
      scope: 'replica',
      replica: this.replica,
      intervalSeconds: SAMPLE_EVERY_MS / 1000,
      tools: names.map((tool) => {
        const { calls, errors, denials } = now.tools.get(tool)!;
        return {
          tool,
          totals: { calls, errors, denials },
          points: series.slice(1).map((end, i) => point(series[i], end, tool)),
        };
      }),
    };
  }

  private async read(at: number): Promise<Sample> {
    const tools = new Map<string, Counts>();
    const counts = (tool: string) => {
      let entry = tools.get(tool);
      if (!entry) tools.set(tool, (entry = { calls: 0, errors: 0, denials: 0, buckets: new Map() }));
      return entry;
    };
    const calls = await this.metrics.registry.getSingleMetric(CALLS)?.get();
    for (const { labels, value } of calls?.values ?? []) {
      const entry = counts(String(labels.tool));
      const outcome = String(labels.outcome);
      entry.calls += value;
      if (DENIALS.has(outcome)) entry.denials += value;
      else if (!FINE.has(outcome)) entry.errors += value;
    }
    // A histogram's values are named: `<name>_bucket` (per `le`), `_sum`, `_count`.
    const duration = await this.metrics.registry.getSingleMetric(DURATION)?.get();
    for (const entry of duration?.values ?? []) {
      if (!('metricName' in entry) || entry.metricName !== `${DURATION}_bucket`) continue;
      const { labels, value } = entry;
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      const { buckets } = counts(String(labels.tool));
      buckets.set(le, (buckets.get(le) ?? 0) + value);
    }
    return { at, tools };
  }
}

const ZERO: Counts = { calls: 0, errors: 0, denials: 0, buckets: new Map() };

function point(start: Sample, end: Sample, tool: string): SummaryPoint {
  const a = start.tools.get(tool) ?? ZERO;
  const b = end.tools.get(tool) ?? ZERO;
  const seconds = Math.max((end.at - start.at) / 1000, 0.001);
  const calls = Math.max(b.calls - a.calls, 0);
  const buckets = [...b.buckets].map(([le, count]): [number, number] => [
    le,
    count - (a.buckets.get(le) ?? 0),
  ]);
  return {
    at: new Date(end.at).toISOString(),
    seconds: round(seconds),
    callsPerSecond: round(calls / seconds),
    errorRate: calls ? round((b.errors - a.errors) / calls) : null,
    denialsPerSecond: round(Math.max(b.denials - a.denials, 0) / seconds),
    p50Ms: quantileMs(0.5, buckets),
    p99Ms: quantileMs(0.99, buckets),
  };
}

/** Prometheus' histogram_quantile over cumulative (upper bound, count) pairs: linear within the bucket. */
export function quantileMs(q: number, cumulative: [number, number][]): number | null {
  const sorted = [...cumulative].sort(([x], [y]) => x - y);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let [lower, below] = [0, 0];
  for (const [le, count] of sorted) {
    if (count >= rank) {
      // Past the last finite bound nothing is known but "slower than it".
      if (le === Infinity) return round(lower * 1000);
      const within = count - below;
      return round((lower + (le - lower) * (within > 0 ? (rank - below) / within : 1)) * 1000);
    }
    [lower, below] = [le, count];
  }
  return round(lower * 1000);
}

const round = (n: number) => Math.round(n * 1000) / 1000;
