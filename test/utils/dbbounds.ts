import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { TestApp } from './app.js';

/**
 * Helpers of the bounded-database-wait tests (issue #15 §4, §5): a TCP proxy that freezes a database the way a
 * network partition or SIGSTOP does, and black-box HTTP calls that report how long each answer took.
 */

/**
 * A loopback TCP proxy in front of PostgreSQL that can *freeze*: while frozen, it accepts connections and keeps
 * them open but forwards nothing in either direction (what a partition without reset, or a SIGSTOPped server,
 * looks like to a client); on `thaw` everything held back flows on, in order.
 */
export class FreezingProxy {
  private readonly links = new Set<Link>();
  private server?: net.Server;
  private frozen = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** The URL `databaseUrl` has when reached through this proxy. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      const link: Link = { client, upstream, held: [] };
      this.links.add(link);
      const forward = (to: net.Socket) => (chunk: Buffer) => {
        if (this.frozen) link.held.push([to, chunk]);
        else to.write(chunk);
      };
      client.on('data', forward(upstream));
      upstream.on('data', forward(client));
      for (const s of [client, upstream]) {
        s.on('error', () => s.destroy());
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
          this.links.delete(link);
        });
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** From now on nothing is forwarded, in either direction, on old or new connections. */
  freeze(): void {
    this.frozen = true;
  }

  /** Forwards everything held back, in order, and goes on forwarding. */
  thaw(): void {
    this.frozen = false;
    for (const link of this.links) {
      for (const [to, chunk] of link.held) if (!to.destroyed) to.write(chunk);
      link.held = [];
    }
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  held: [net.Socket, Buffer][];
}

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export interface Timed {
  /** Milliseconds from sending the request to the end of its answer. */
  ms: number;
  status: number;
  /** The `x-request-id` sent (the audit row's `request_id`). */
  requestId: string;
  /** The parsed body: a JSON-RPC message (first SSE event for SSE answers) or a REST body; undefined if none. */
  body?: {
    result?: { isError?: boolean; content?: { text: string }[]; _meta?: Record<string, unknown> };
    error?: { code: number; message: string };
    [key: string]: unknown;
  };
}

/** One HTTP request, timed, with a fresh `x-request-id`. Network errors count as status 0. */
export async function timed(url: string, init: RequestInit = {}): Promise<Timed> {
  const requestId = `dbb-${randomUUID()}`;
  const started = performance.now();
  let status = 0;
  let text = '';
  try {
    const response = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'x-request-id': requestId },
      signal: AbortSignal.timeout(30_000),
    });
    status = response.status;
    text = await response.text();
  } catch {
    // no answer at all: status 0
  }
  const ms = performance.now() - started;
  const sse = /^data: (.*)$/m.exec(text);
  let body: Timed['body'];
  try {
    body = text ? (JSON.parse(sse ? sse[1] : text) as Timed['body']) : undefined;
  } catch {
    body = undefined;
  }
  return { ms, status, requestId, body };
}

/** A JSON-RPC request to `POST /mcp`, timed. */
export function rpc(app: TestApp, auth: Record<string, string>, method: string, params: unknown) {
  return timed(app.mcpUrl.toString(), {
    method: 'POST',
    headers: { ...HEADERS, ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

export function callTool(app: TestApp, auth: Record<string, string>, name: string, args: unknown) {
  return rpc(app, auth, 'tools/call', { name, arguments: args });
}

/** The answer's outcome: `success`, a tool error code, `rpc:<code>` for a JSON-RPC error, or `http:<status>`. */
export function outcomeOf(answer: Timed): string {
  const result = answer.body?.result;
  if (answer.status === 200 && result) {
    if (!result.isError) return 'success';
    return (result._meta?.['mcp-production/error-code'] as string | undefined) ?? 'TOOL_FAILED';
  }
  if (answer.body?.error) return `rpc:${answer.body.error.code}`;
  return `http:${answer.status}`;
}

/** Counts of each outcome, e.g. `{ success: 12, OUTCOME_UNKNOWN: 3 }`. */
export function tally(outcomes: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}
