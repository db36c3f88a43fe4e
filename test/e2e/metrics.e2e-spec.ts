import { spawn } from 'node:child_process';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';

type App = Awaited<ReturnType<typeof startApp>>;

/** Runs `promtool check metrics` (Debian package `prometheus`) on an exposition; resolves to its exit code and output. */
function promtoolCheck(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}

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

  it('is public and serves the Prometheus text format that promtool accepts', async () => {
    const { text, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const check = await promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
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
