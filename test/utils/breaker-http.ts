import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';

/**
 * Black-box helpers of the breaker/in-flight/versioning tests: plain `fetch` against `POST /mcp`, asserting on
 * HTTP status, headers and JSON bodies only (no SDK, no app internals), so a protocol rewrite can re-run them.
 */
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export interface RpcAnswer {
  status: number;
  headers: Headers;
  /** The JSON-RPC message (a JSON body, or the first `data:` event of an SSE body); undefined when none. */
  body?: {
    result?: {
      isError?: boolean;
      content?: { type: string; text: string }[];
      structuredContent?: unknown;
      _meta?: Record<string, unknown>;
    };
    error?: { code: number; message: string; data?: Record<string, unknown> };
  };
}

/** One JSON-RPC request over HTTP. */
export async function rpc(
  app: TestApp,
  auth: Record<string, string>,
  method: string,
  params: unknown,
  signal?: AbortSignal,
): Promise<RpcAnswer> {
  const response = await fetch(app.mcpUrl, {
    method: 'POST',
    headers: { ...HEADERS, ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal,
  });
  const text = await response.text();
  let body: RpcAnswer['body'];
  if (text) {
    const sse = /^data: (.*)$/m.exec(text);
    try {
      body = JSON.parse(sse ? sse[1] : text) as RpcAnswer['body'];
    } catch {
      body = undefined;
    }
  }
  return { status: response.status, headers: response.headers, body };
}

/** A `tools/call` over HTTP. */
export function callTool(
  app: TestApp,
  auth: Record<string, string>,
  name: string,
  args: unknown,
  meta?: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<RpcAnswer> {
  return rpc(app, auth, 'tools/call', { name, arguments: args, ...(meta && { _meta: meta }) }, signal);
}

/** The stable error code of a failed tool result (`_meta`), or undefined for a success. */
export function toolErrorCode(answer: RpcAnswer): string | undefined {
  const result = answer.body?.result;
  return result?.isError ? (result._meta?.['mcp-production/error-code'] as string | undefined) : undefined;
}

/** The parsed error object a failed tool result carries in its text. */
export function toolErrorOf(answer: RpcAnswer): { code: string; message: string; details?: unknown } {
  const text = answer.body?.result?.content?.[0]?.text ?? '{}';
  return (JSON.parse(text) as { error: { code: string; message: string; details?: unknown } }).error;
}

/** A fresh agent with scope and grant for `tools`. */
export async function newAgent(
  app: TestApp,
  tools: string[],
  scopes: string[] = tools.map((t) => `tool:${t}`),
): Promise<{ id: string; auth: Record<string, string> }> {
  const id = `agent-${randomUUID()}`;
  for (const tool of tools) await app.grant(id, tool);
  return { id, auth: await app.bearer(id, scopes) };
}

/** The breaker of each tool version as `/admin/tools` reports it. */
export async function breakers(
  app: TestApp,
): Promise<Map<string, { state: string; failures: number; [k: string]: unknown }>> {
  const admin = await app.bearer('ops', ['mcp:admin']);
  const response = await fetch(`${app.baseUrl}/admin/tools`, { headers: admin });
  const tools = (await response.json()) as {
    name: string;
    version: string;
    breaker: { state: string; failures: number };
  }[];
  return new Map(tools.map((t) => [`${t.name}@${t.version}`, t.breaker]));
}
