import {
  Client as ModernClient,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

/**
 * The two protocol eras the endpoint serves, as clients speak them: `modern` = the SDK v2 client pinned to
 * 2026-07-28 (sessionless, `_meta` envelope, input-required results); `legacy` = the SDK 1.x client, which
 * initializes with 2025-11-25 (a session; server→client requests for elicitation and sampling).
 */
export type Era = 'modern' | 'legacy';
export const ERAS: readonly Era[] = ['modern', 'legacy'];
export const MODERN_VERSION = '2026-07-28';
export const LEGACY_VERSION = '2025-11-25';
const CLIENT_INFO = { name: 'era-e2e', version: '1.0.0' };
const CAPABILITIES = { elicitation: { form: {} }, sampling: {} };

type LoggingLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';
export interface CallResult {
  content: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
}
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/** One client of either era behind one interface, answering elicitation and sampling like a user and an LLM. */
export interface EraClient {
  era: Era;
  /** The protocol version the connection negotiated. */
  protocolVersion(): string | undefined;
  /**
   * `tools/call`. `logLevel`: modern puts it in the request's `_meta` envelope (no level = no log messages);
   * legacy sets it for the session first (`logging/setLevel`).
   */
  callTool(
    name: string,
    args?: Record<string, unknown>,
    options?: { onprogress?: (progress: Progress) => void; logLevel?: LoggingLevel },
  ): Promise<CallResult>;
  listTools(): Promise<string[]>;
  /** `notifications/message` received, in order. */
  logs: { level: string; data: unknown }[];
  /** The questions the server asked this client (elicitation messages, sampling prompts), in order. */
  asked: string[];
  close(): Promise<void>;
}

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** A fetch of its own (e.g. to spread requests over replicas or record them). */
  fetch?: typeof fetch;
  /** Declare elicitation and sampling (default true). */
  capable?: boolean;
}

/** What the test "user" answers to a form: `name` (the input-required fixtures) and `username`/`email`. */
const FORM_ANSWER = { name: 'Ada', username: 'ada', email: 'ada@example.com' };
/** What the test "LLM" answers to `prompt`. */
export const sampled = (prompt: string) => `echo of ${prompt}`;

function promptOf(messages: { content: unknown }[]): string {
  const content = messages[0]?.content as { type?: string; text?: string } | undefined;
  return content?.type === 'text' ? (content.text ?? '') : '?';
}

export async function connectEra(era: Era, url: URL, options: ConnectOptions = {}): Promise<EraClient> {
  return era === 'modern' ? connectModern(url, options) : connectLegacy(url, options);
}

/** The SDK v2 client, pinned to 2026-07-28 (a `server/discover` probe, then sessionless requests). */
export async function connectModern(
  url: URL,
  options: ConnectOptions = {},
): Promise<EraClient & { sdk: ModernClient }> {
  const capable = options.capable ?? true;
  const client = new ModernClient(CLIENT_INFO, {
    versionNegotiation: { mode: { pin: MODERN_VERSION } },
    ...(capable && { capabilities: CAPABILITIES }),
  });
  const logs: EraClient['logs'] = [];
  const asked: string[] = [];
  client.setNotificationHandler('notifications/message', (n) => {
    logs.push({ level: n.params.level, data: n.params.data });
  });
  if (capable) {
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: FORM_ANSWER };
    });
    client.setRequestHandler('sampling/createMessage', (request) => {
      const prompt = promptOf(request.params.messages);
      asked.push(prompt);
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: sampled(prompt) } };
    });
  }
  await client.connect(
    new ModernTransport(url, {
      requestInit: { headers: options.headers ?? {} },
      ...(options.fetch && { fetch: options.fetch }),
      onInsufficientScope: 'throw',
    }),
  );
  return {
    sdk: client,
    era: 'modern',
    protocolVersion: () => client.getNegotiatedProtocolVersion(),
    callTool: async (name, args = {}, { onprogress, logLevel } = {}) =>
      await client.callTool(
        { name, arguments: args, ...(logLevel && { _meta: { [LOG_LEVEL_META_KEY]: logLevel } }) },
        onprogress ? { onprogress } : undefined,
      ),
    // Lists are cacheable on 2026-07-28 (`ttlMs`): a test always wants what the server says now.
    listTools: async () =>
      (await client.listTools(undefined, { cacheMode: 'refresh' })).tools.map((t) => t.name),
    logs,
    asked,
    close: () => client.close(),
  };
}

/** The SDK 1.x client: `initialize` with 2025-11-25, a session, server→client requests on it. */
export async function connectLegacy(url: URL, options: ConnectOptions = {}): Promise<EraClient> {
  const capable = options.capable ?? true;
  const client = new LegacyClient(CLIENT_INFO, capable ? { capabilities: CAPABILITIES } : {});
  const logs: EraClient['logs'] = [];
  const asked: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push({ level: n.params.level, data: n.params.data });
  });
  if (capable) {
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: FORM_ANSWER };
    });
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      const prompt = promptOf(request.params.messages);
      asked.push(prompt);
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: sampled(prompt) } };
    });
  }
  const transport = new LegacyTransport(url, {
    requestInit: { headers: options.headers ?? {} },
    ...(options.fetch && { fetch: options.fetch }),
  });
  await client.connect(transport);
  return {
    era: 'legacy',
    protocolVersion: () => transport.protocolVersion,
    callTool: async (name, args = {}, { onprogress, logLevel } = {}) => {
      if (logLevel) await client.setLoggingLevel(logLevel);
      return (await client.callTool(
        { name, arguments: args },
        undefined,
        onprogress ? { onprogress } : undefined,
      )) as CallResult;
    },
    listTools: async () => (await client.listTools()).tools.map((t) => t.name),
    logs,
    asked,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** The text of a result's first content block. */
export const textOf = (result: CallResult): string | undefined => result.content[0]?.text;

/** One JSON-RPC request as sent over raw HTTP: its body and the headers it needs besides auth. */
export interface WireRequest {
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/**
 * A JSON-RPC request as `era` puts it on the wire. Legacy: as given (a stateless 2025 request, no session).
 * Modern: the 2026-07-28 `_meta` envelope (protocol version, client info, capabilities) merged into `params._meta`,
 * and the standard headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` for a named call).
 */
export function onWire(
  era: Era,
  request: { jsonrpc?: string; id?: number | string; method: string; params?: Record<string, unknown> },
  options: { capabilities?: Record<string, unknown>; logLevel?: LoggingLevel } = {},
): WireRequest {
  const body = { jsonrpc: '2.0', ...request } as Record<string, unknown>;
  if (era === 'legacy') return { body, headers: {} };
  const params = request.params ?? {};
  const name = typeof params.name === 'string' ? params.name : undefined;
  return {
    body: {
      ...body,
      params: {
        ...params,
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: MODERN_VERSION,
          [CLIENT_INFO_META_KEY]: CLIENT_INFO,
          [CLIENT_CAPABILITIES_META_KEY]: options.capabilities ?? {},
          ...(options.logLevel && { [LOG_LEVEL_META_KEY]: options.logLevel }),
          ...(params._meta as Record<string, unknown> | undefined),
        },
      },
    },
    headers: {
      'mcp-protocol-version': MODERN_VERSION,
      'mcp-method': request.method,
      ...(name !== undefined && { 'mcp-name': name }),
    },
  };
}

/** The JSON-RPC messages of a response in either framing (JSON, or the `data:` lines of an event stream). */
export function messagesOf(contentType: string | null | undefined, text: string): Record<string, unknown>[] {
  if (!contentType?.includes('text/event-stream'))
    return text ? [JSON.parse(text) as Record<string, unknown>] : [];
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

/** The message of a response that answers request `id` (its result or error). */
export function answerOf(
  contentType: string | null | undefined,
  text: string,
  id: number | string,
): {
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
} {
  const answer = messagesOf(contentType, text).find((m) => m.id === id);
  if (!answer) throw new Error(`no answer to request ${id} in: ${text.slice(0, 500)}`);
  return answer;
}

/** One HTTP request a client sent through `spreadFetch`: where it went and what it carried. */
export interface Sent {
  /** Index of the target it was sent to. */
  target: number;
  http: string;
  /** JSON-RPC method (undefined for a response message or a GET). */
  method?: string;
  session: string | null;
  /** A retry carrying answers (`params.inputResponses`) and/or `params.requestState`. */
  retry: boolean;
}

/**
 * A fetch that sends each request to `targets[pick(n)]` (n = 0, 1, 2, … per request; default round-robin, no
 * affinity, as a load balancer without sticky sessions) whatever URL the client asked for, and records it.
 */
export function spreadFetch(
  targets: readonly URL[],
  pick: (n: number) => number = (n) => n % targets.length,
): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  let n = 0;
  const spread: typeof fetch = (input, init) => {
    const target = pick(n++);
    const asked = new URL(input instanceof Request ? input.url : String(input));
    const url = new URL(asked.pathname + asked.search, targets[target]);
    const body =
      typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const params = body?.params as Record<string, unknown> | undefined;
    sent.push({
      target,
      http: init?.method ?? 'GET',
      method: typeof body?.method === 'string' ? body.method : undefined,
      session: new Headers(init?.headers).get('mcp-session-id'),
      retry: params?.inputResponses !== undefined || params?.requestState !== undefined,
    });
    return fetch(url, init);
  };
  return { fetch: spread, sent };
}
