import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/app-config.js';
import { Tracing } from '../../src/metrics/tracing.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}
interface OtlpRequest {
  resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A loopback OTLP/HTTP collector: keeps every export request it receives. */
class Collector {
  readonly requests: OtlpRequest[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces')
          this.requests.push(JSON.parse(body) as OtlpRequest);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  spans(): OtlpSpan[] {
    return this.requests.flatMap((r) =>
      r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}

const attribute = (span: OtlpSpan, key: string) =>
  span.attributes.find((a) => a.key === key)?.value.stringValue;

describe(`OpenTelemetry tracing (${databaseKind})`, () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = new Collector();
    await collector.start();
  });
  afterAll(() => collector.close());

  async function callEcho(app: Awaited<ReturnType<typeof startApp>>, traceparent: string): Promise<void> {
    await app.grant('tracer', 'echo');
    const client = await connectClient(app.mcpUrl, {
      ...(await app.bearer('tracer', ['tool:echo'])),
      traceparent,
    });
    const result = await client.callTool({ name: 'echo', arguments: { text: 'traced' } });
    expect(result.isError).toBeFalsy();
    await client.close();
  }

  it('is off by default: no endpoint, no SDK, nothing exported', async () => {
    expect(loadConfig({}).telemetry.otlpEndpoint).toBeUndefined();
    const app = await startApp();
    try {
      expect(app.app.get(Tracing).enabled).toBe(false);
      await callEcho(app, `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
    } finally {
      await app.close();
    }
    expect(collector.requests).toHaveLength(0);
  });

  it('exports a span per tool call, in the trace of the incoming traceparent, to the configured collector', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const app = await startApp({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } });
    try {
      expect(app.app.get(Tracing).enabled).toBe(true);
      await callEcho(app, `00-${traceId}-${callerSpanId}-01`);
    } finally {
      await app.close(); // shutdown flushes the batch processor
    }

    const spans = collector.spans();
    const toolSpans = spans.filter((s) => s.name === 'tools/call echo');
    expect(toolSpans).toHaveLength(1);
    const [toolSpan] = toolSpans;
    expect(toolSpan.traceId).toBe(traceId);
    expect(attribute(toolSpan, 'mcp.tool.name')).toBe('echo');
    expect(attribute(toolSpan, 'mcp.tool.version')).toBe('1.0.0');
    expect(attribute(toolSpan, 'mcp.agent.id')).toBe('tracer');
    expect(attribute(toolSpan, 'mcp.outcome')).toBe('success');

    // Its parent is the server span of the HTTP request, itself a child of the caller's span.
    const parent = spans.find((s) => s.spanId === toolSpan.parentSpanId);
    expect(parent).toMatchObject({ name: 'POST /mcp', traceId, parentSpanId: callerSpanId });
  });
});
