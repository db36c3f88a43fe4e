import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';
import { parseExposition } from '../utils/prometheus-exposition.js';

type App = Awaited<ReturnType<typeof startApp>>;

/** The value of one sample, e.g. `mcp_tool_calls_total{tool="echo",version="1.0.0",outcome="success"}`. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe(`GET /metrics (${databaseKind})`, () => {
  let app: App;
  let other: App;
  beforeAll(async () => {
    app = await startApp();
    other = await startApp({ idp: app.idp });
  });
  afterAll(async () => {
    await other.close();
    await app.close();
  });

  const scrape = async (target: App = app) => {
    const res = await fetch(`${target.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    return { text: await res.text(), contentType: res.headers.get('content-type') };
  };

  it('is public and serves a valid Prometheus text exposition', async () => {
    const { text, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parseExposition(text);
    expect(families.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'mcp_tool_calls_total',
        'mcp_tool_call_duration_seconds',
        'process_cpu_seconds_total',
      ]),
    );
  });

  it('counts tool calls by tool, version and outcome, with their duration and sizes', async () => {
    await app.grant('metrics-agent', 'echo');
    const client = await connectClient(
      app.mcpUrl,
      await app.bearer('metrics-agent', ['tool:echo', 'tool:no.such']),
    );
    await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    await client.callTool({ name: 'echo', arguments: { text: 'hello again' } });
    await client.callTool({ name: 'echo', arguments: { text: 7 } });
    await client.callTool({ name: 'no.such', arguments: {} }).catch(() => undefined);
    await client.close();

    const { text } = await scrape();
    parseExposition(text); // with labelled histogram series in it now
    expect(sample(text, 'mcp_tool_calls_total{tool="echo",version="1.0.0",outcome="success"}')).toBe(2);
    expect(
      sample(text, 'mcp_tool_calls_total{tool="echo",version="1.0.0",outcome="invalid_arguments"}'),
    ).toBe(1);
    // An unknown name is never a label value (it is chosen by the caller).
    expect(sample(text, 'mcp_tool_calls_total{tool="(unknown)",version="",outcome="unknown_tool"}')).toBe(1);
    expect(text).not.toContain('no.such');
    expect(sample(text, 'mcp_tool_call_duration_seconds_count{tool="echo",outcome="success"}')).toBe(2);
    expect(sample(text, 'mcp_tool_call_argument_bytes_count{tool="echo"}')).toBe(3);
    expect(sample(text, 'mcp_tool_call_argument_bytes_sum{tool="echo"}')).toBe(
      Buffer.byteLength('{"text":"hello"}{"text":"hello again"}{"text":7}'),
    );
    // Results are measured when the pipeline returns one (the invalid call was refused before the handler).
    expect(sample(text, 'mcp_tool_call_result_bytes_count{tool="echo"}')).toBe(2);
    // Every call above was audited through the group-commit queue.
    expect(sample(text, 'mcp_audit_flush_rows_sum')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'mcp_audit_flush_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'mcp_audit_queue_depth')).toBe(0);
    expect(sample(text, 'mcp_audit_flush_failures_total')).toBe(0);
  });

  it('exposes the database pool, HTTP timings and process metrics', async () => {
    await fetch(`${app.baseUrl}/health/live`);
    const { text } = await scrape();
    expect(sample(text, 'mcp_db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'mcp_db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'mcp_db_pool_waiting_clients')).toBe(0);
    expect(
      sample(text, 'mcp_http_request_duration_seconds_count{method="GET",route="/health/live",status="200"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });

  it('keeps the auth, rate-limit and breaker series other modules record into', async () => {
    // A request without a token is an auth failure the guard counts.
    expect(
      (
        await fetch(app.mcpUrl, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(401);
    const { text } = await scrape();
    expect(sample(text, 'mcp_auth_failures_total{reason="missing_token"}')).toBeGreaterThanOrEqual(1);
    for (const name of ['mcp_auth_failures_total', 'mcp_rate_limited_total', 'mcp_breaker_state']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('keeps one registry per app instance: two apps in one process do not share counts', async () => {
    const { text } = await scrape(other);
    expect(
      sample(text, 'mcp_tool_calls_total{tool="echo",version="1.0.0",outcome="success"}'),
    ).toBeUndefined();
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });
});

/** The checker above replaces `promtool check metrics`: it must refuse what promtool refused. */
describe('parseExposition', () => {
  const valid = [
    '# HELP calls_total Calls.',
    '# TYPE calls_total counter',
    'calls_total{tool="echo"} 2',
    'calls_total{tool="add"} 0',
    '# HELP latency_seconds Latency.',
    '# TYPE latency_seconds histogram',
    'latency_seconds_bucket{tool="echo",le="0.1"} 1',
    'latency_seconds_bucket{tool="echo",le="1"} 2',
    'latency_seconds_bucket{tool="echo",le="+Inf"} 2',
    'latency_seconds_sum{tool="echo"} 0.3',
    'latency_seconds_count{tool="echo"} 2',
    '# HELP breaker_state State.',
    '# TYPE breaker_state gauge',
    '',
  ].join('\n');
  const edit = (from: string, to: string) => {
    expect(valid).toContain(from);
    return valid.replace(from, to);
  };

  it('accepts a valid exposition, with families that have no samples yet', () => {
    expect(parseExposition(valid).map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['calls_total', 'counter', 2],
      ['latency_seconds', 'histogram', 5],
      ['breaker_state', 'gauge', 0],
    ]);
  });

  it.each([
    ['an unreadable line', edit('calls_total{tool="add"} 0', 'calls_total{tool=add} 0'), /invalid line/i],
    [
      'a value that is no number',
      edit('calls_total{tool="add"} 0', 'calls_total{tool="add"} zero'),
      /no valid value/,
    ],
    ['a missing value', edit('calls_total{tool="add"} 0', 'calls_total{tool="add"}'), /no valid value/],
    [
      'a duplicate series',
      edit('calls_total{tool="add"} 0', 'calls_total{tool="echo"} 3'),
      /duplicate series/,
    ],
    ['a negative counter', edit('calls_total{tool="add"} 0', 'calls_total{tool="add"} -1'), /is a count/],
    [
      'a second TYPE',
      edit('# TYPE breaker_state gauge', '# TYPE breaker_state gauge\n# TYPE breaker_state gauge'),
      /second TYPE/,
    ],
    ['a family without HELP', edit('# HELP breaker_state State.\n', ''), /no HELP/],
    ['an empty HELP', edit('# HELP breaker_state State.', '# HELP breaker_state '), /invalid line/i],
    ['a sample outside its family', edit('calls_total{tool="add"} 0', 'other_total 1'), /outside its family/],
    [
      'a counter not named _total',
      edit('# TYPE breaker_state gauge', '# TYPE breaker_state counter'),
      /only counters/,
    ],
    ['a gauge named _total', edit('# TYPE calls_total counter', '# TYPE calls_total gauge'), /only counters/],
    ['an unknown type', edit('# TYPE breaker_state gauge', '# TYPE breaker_state gauche'), /unknown type/],
    ['a decreasing bucket', edit('le="1"} 2', 'le="1"} 0'), /decreases/],
    ['buckets out of order', edit('le="0.1"} 1', 'le="5"} 1'), /out of order/],
    ['no +Inf bucket', edit('latency_seconds_bucket{tool="echo",le="+Inf"} 2\n', ''), /no le="\+Inf"/],
    [
      '+Inf bucket != _count',
      edit('latency_seconds_count{tool="echo"} 2', 'latency_seconds_count{tool="echo"} 3'),
      /!= _count/,
    ],
    ['a histogram without _sum', edit('latency_seconds_sum{tool="echo"} 0.3\n', ''), /no _sum/],
    [
      'a bare histogram sample',
      edit('latency_seconds_sum{tool="echo"} 0.3', 'latency_seconds{tool="echo"} 0.3'),
      /outside its family/,
    ],
    [
      'an invalid label name',
      edit('calls_total{tool="add"} 0', 'calls_total{to-ol="add"} 0'),
      /invalid label name/,
    ],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseExposition(text)).toThrow(message);
  });
});
