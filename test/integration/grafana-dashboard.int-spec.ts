import { readFile } from 'node:fs/promises';
import {
  dashboardQueries,
  recordingRules,
  substituteVariables,
  type DashboardQuery,
} from '../../scripts/grafana-dashboard.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';
import { parseExposition, seriesNames, type MetricFamily } from '../utils/prometheus-exposition.js';
import { vectorSelectors } from '../utils/promql-selectors.js';

const DASHBOARD_FILE = 'deploy/grafana/mcp-production.json';

/**
 * The checker: every metric a query names that the exposition does not export, as `<where>: <metric>`. A
 * histogram exports only `_bucket`, `_sum` and `_count` series; a family with no samples yet still counts (its
 * TYPE line is there).
 */
function unexportedMetrics(queries: DashboardQuery[], families: MetricFamily[]): string[] {
  const exported = new Set(families.flatMap(seriesNames));
  return queries.flatMap((query) =>
    vectorSelectors(query.expr)
      .filter((selector) => !exported.has(selector.metric))
      .map((selector) => `${query.where}: ${selector.metric}`),
  );
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

describe(`Grafana dashboard ${DASHBOARD_FILE} (${databaseKind})`, () => {
  let dashboard: { panels: Panel[]; templating: { list: { name: string; type: string }[] } };
  let queries: DashboardQuery[];
  let exposition: string;
  let families: MetricFamily[];

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8'));
    queries = dashboardQueries(dashboard);
    const app = await startApp();
    try {
      // A few calls so labelled series exist too (every family is exported by its TYPE line in any case).
      await app.grant('dashboard-agent', 'echo');
      const client = await connectClient(app.mcpUrl, await app.bearer('dashboard-agent', ['tool:echo']));
      await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
      await client.callTool({ name: 'echo', arguments: { text: 7 } });
      await client.close();
      await fetch(app.mcpUrl, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      exposition = await (await fetch(`${app.baseUrl}/metrics`)).text();
    } finally {
      await app.close();
    }
    families = parseExposition(exposition);
  });

  it('queries only metrics that /metrics exports', () => {
    expect(queries.length).toBeGreaterThan(30);
    for (const query of queries)
      expect({ ...query, selectors: vectorSelectors(query.expr).length }).not.toMatchObject({ selectors: 0 });
    expect(unexportedMetrics(queries, families)).toEqual([]);
    // What the operator needs to see, each from the metric that carries it.
    const queried = new Set(queries.flatMap((q) => vectorSelectors(q.expr).map((s) => s.metric)));
    expect([...queried]).toEqual(
      expect.arrayContaining([
        'mcp_tool_calls_total', // request rate, errors by outcome, denials
        'mcp_http_request_duration_seconds_count', // HTTP rate by status code
        'mcp_tool_call_duration_seconds_bucket', // latency quantiles and heatmap
        'mcp_http_request_duration_seconds_bucket',
        'mcp_auth_failures_total',
        'mcp_rate_limited_total',
        'mcp_breaker_state',
        'mcp_audit_queue_depth',
        'mcp_audit_flush_failures_total',
        'mcp_audit_flush_duration_seconds_bucket',
        'mcp_db_pool_connections',
        'mcp_db_pool_waiting_clients',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
      ]),
    );
  });

  it('fails when a queried metric is renamed, in the dashboard or in the service', () => {
    // The dashboard names a metric the service does not export.
    const renamedQuery = queries.map((q) => ({
      ...q,
      expr: q.expr.replaceAll('mcp_audit_queue_depth', 'mcp_audit_queue_length'),
    }));
    const missing = unexportedMetrics(renamedQuery, families);
    expect(missing.length).toBeGreaterThanOrEqual(2);
    expect(missing.every((m) => m.endsWith(': mcp_audit_queue_length'))).toBe(true);
    expect(missing).toContainEqual(expect.stringMatching(/^panel \d+ "Audit queue depth" target A: /));
    expect(missing).toContainEqual('variable "job": mcp_audit_queue_length');

    // The service renames a metric the dashboard queries.
    const renamedMetric = exposition.replaceAll(
      'mcp_audit_flush_failures_total',
      'mcp_audit_flush_errors_total',
    );
    expect(unexportedMetrics(queries, parseExposition(renamedMetric))).toEqual([
      expect.stringMatching(/^panel \d+ "Audit flush failures" target A: mcp_audit_flush_failures_total$/),
    ]);
    // A histogram is queried through its _bucket/_sum/_count series, never by its family name.
    expect(
      unexportedMetrics([{ where: 'q', expr: 'rate(mcp_tool_call_duration_seconds[5m])' }], families),
    ).toEqual(['q: mcp_tool_call_duration_seconds']);
  });

  it('scopes every panel query to $job and $instance, and every panel to the ${datasource} variable', () => {
    expect(dashboard.templating.list.map((v) => `${v.type}:${v.name}`)).toEqual(
      expect.arrayContaining(['datasource:datasource', 'query:job', 'query:instance']),
    );
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const panel of panels) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({
        panel: panel.title,
        uid: '${datasource}',
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.datasource?.uid).toBe('${datasource}');
    }
    const unscoped = queries
      .filter((q) => q.panelId !== undefined)
      .flatMap((q) =>
        vectorSelectors(q.expr)
          .filter(
            (s) =>
              !['job', 'instance'].every((label) =>
                s.matchers.some((m) => m.label === label && m.op === '=~' && m.value === `$${label}`),
              ),
          )
          .map((s) => `${q.where}: ${s.metric}`),
      );
    expect(unscoped).toEqual([]);
  });

  it('turns every query into a recording rule for promtool, Grafana variables substituted', () => {
    const rules = recordingRules(dashboard).groups[0].rules;
    expect(rules).toHaveLength(queries.length);
    expect(new Set(rules.map((r) => r.record)).size).toBe(rules.length);
    rules.forEach((rule, k) => {
      expect(rule.record).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(rule.expr).not.toContain('$');
      // Substitution changes matcher values and ranges only, never which metrics are queried.
      expect(vectorSelectors(rule.expr).map((s) => s.metric)).toEqual(
        vectorSelectors(queries[k].expr).map((s) => s.metric),
      );
    });
    expect(rules.map((r) => r.expr)).toContainEqual(expect.stringContaining('[5m]'));
    const variables = new Set(['job']);
    expect(substituteVariables('rate(x{job=~"$job"}[$__rate_interval])', variables)).toBe(
      'rate(x{job=~".*"}[5m])',
    );
    expect(substituteVariables('x{job=~"${job:regex}"}', variables)).toBe('x{job=~".*"}');
    expect(() => substituteVariables('x{a=~"$nope"}', variables)).toThrow(/unknown Grafana variable \$nope/);
  });
});

describe('vectorSelectors (PromQL metric-name extraction)', () => {
  const metrics = (expr: string) => vectorSelectors(expr).map((s) => s.metric);

  it('reads the metric and matchers of each selector, not label names in by/without/on lists', () => {
    expect(vectorSelectors('sum by (job, le) (rate(a_bucket{job=~"$job", le!="x"}[5m]))')).toEqual([
      {
        metric: 'a_bucket',
        matchers: [
          { label: 'job', op: '=~', value: '$job' },
          { label: 'le', op: '!=', value: 'x' },
        ],
      },
    ]);
    expect(
      metrics(
        'histogram_quantile(0.99, sum without (instance) (rate(x_bucket[$__rate_interval]))) > bool 1 ' +
          'and on (job) group_left (tool) y offset 5m or vector(0)',
      ),
    ).toEqual(['x_bucket', 'y']);
  });

  it('skips functions, keywords, numbers, durations, strings and comments', () => {
    expect(metrics('label_replace(m1, "dst", "$1", "src", "(sum|rate) x") # by (x) in_comment')).toEqual([
      'm1',
    ]);
    expect(
      metrics('count_values("version", m2) + topk(5, m3) @ start() - 1e3 * Inf + m4[1h:5m] / NaN'),
    ).toEqual(['m2', 'm3', 'm4']);
    expect(metrics('SUM BY (x) (m5) UNLESS ignoring(y) m6 offset -1h30m')).toEqual(['m5', 'm6']);
    expect(metrics('max(m7{a="}{", b=\'"\'}) * on() group_right m8')).toEqual(['m7', 'm8']);
  });

  it('reads __name__ equality matchers and quoted names; refuses selectors that name no single metric', () => {
    expect(metrics('{__name__="m9", job="x"}')).toEqual(['m9']);
    expect(metrics('{"m.10", job="x"}')).toEqual(['m.10']);
    expect(() => vectorSelectors('{job="x"}')).toThrow(/without a metric name/);
    expect(() => vectorSelectors('{__name__=~"mcp_.*"}')).toThrow(/names no single metric/);
    expect(() => vectorSelectors('rate(m{job="x"[5m])')).toThrow();
  });
});
