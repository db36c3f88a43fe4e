import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  LOG_LEVEL_META_KEY,
  PerRequestHTTPServerTransport,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageClassification,
  type MessageExtraInfo,
  type RequestId,
  type Server,
  type Transport,
} from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  MODERN_PROTOCOL_VERSIONS,
  sdkMessageOf,
  type Era,
  type RequestView,
} from '../common/request-view.js';
import { McpServerFactory } from './mcp-server.factory.js';

/** JSON-RPC code of a call cut short by the server closing (v1's ErrorCode.ConnectionClosed; v2 has no number). */
const CONNECTION_CLOSED = -32000;

/**
 * Methods the shared servers answer. They keep no per-connection state in the SDK `Server`: `initialize` (client
 * capabilities), `logging/setLevel` and `resources/subscribe` do, so they keep a server of their own.
 */
const SHARED_METHODS = new Set(['tools/call', 'tools/list', 'ping']);

/** What a 2026-07-28 request is to the SDK (`MessageExtraInfo.classification`): it binds a server to that era. */
const MODERN: MessageClassification = { era: 'modern', revision: MODERN_PROTOCOL_VERSIONS[0] };

/**
 * The stateless hot path: ONE long-lived SDK `Server` per protocol era answers every plain stateless POST of that
 * era (a single JSON-RPC request of a method above, answered with JSON). The SDK's own stateless patterns, a new
 * server (and transport) per request, spend most of each call building them and converting the request to a Web
 * `Request` and back (see TOOLCHAIN.md); here a request costs a map entry. The SDK still parses, validates and
 * dispatches every message and encodes every result for its era. Everything else (batches, notifications,
 * progress, SSE, `subscriptions/listen`, bad headers, `initialize`) goes through the SDK's transports and handler,
 * so their HTTP-level checks and errors are the SDK's.
 */
@Injectable()
export class SharedServer implements OnModuleInit, OnApplicationShutdown {
  private readonly lanes: Record<Era, { transport: MultiplexTransport; server?: Server }> = {
    legacy: { transport: new MultiplexTransport() },
    modern: { transport: new MultiplexTransport(MODERN) },
  };

  constructor(private readonly factory: McpServerFactory) {}

  async onModuleInit(): Promise<void> {
    for (const era of ['legacy', 'modern'] as const) {
      const lane = this.lanes[era];
      lane.server = this.factory.create({ modern: era === 'modern' });
      await lane.server.connect(lane.transport);
    }
  }

  /** After the listener has closed and in-flight calls have finished (closing aborts any still running). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(Object.values(this.lanes).map((lane) => lane.server?.close() ?? Promise.resolve()));
  }

  /**
   * Can this request take its era's shared server? A 2025 request must pass the SDK transport's header checks
   * (or it goes there for the answer). A 2026-07-28 request has passed the SDK's validation ladder already
   * (RequestViewGuard); it must not ask for a stream: a progress token or a log level in its envelope makes the
   * SDK answer with SSE.
   */
  accepts(req: FastifyRequest, view: RequestView): boolean {
    const { accept, 'content-type': contentType, 'mcp-protocol-version': version } = req.headers;
    return (
      view.kind === 'request' &&
      !view.batch &&
      SHARED_METHODS.has(view.method!) &&
      view.progressToken === undefined &&
      !!accept?.includes('application/json') &&
      accept.includes('text/event-stream') &&
      contentType?.split(';', 1)[0].trim().toLowerCase() === 'application/json' &&
      (view.era === 'modern'
        ? view.meta?.[LOG_LEVEL_META_KEY] === undefined
        : version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version as string))
    );
  }

  /**
   * Answers an accepted request with JSON; a client that goes away cancels the call (its `ctx.signal`). When the
   * SDK answers before any handler ran (its dispatch gates: nothing happened), `fallback` serves the request the
   * SDK's own way instead, so such answers keep the SDK transport's HTTP status.
   */
  async serve(
    req: FastifyRequest,
    reply: FastifyReply,
    era: Era,
    extra: MessageExtraInfo,
    fallback: () => Promise<void>,
  ): Promise<void> {
    const dispatched = this.lanes[era].transport.dispatch(sdkMessageOf(req) as JSONRPCRequest, extra);
    if (!dispatched) return fallback();
    reply.hijack();
    reply.raw.once('close', dispatched.cancel);
    const message = await dispatched.answer;
    if (!message || reply.raw.destroyed) return;
    const json = JSON.stringify(message);
    reply.raw
      .writeHead(statusOf(era, message), {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      })
      .end(json);
  }
}

/**
 * A handler's JSON-RPC error travels with 200, as in the SDK: on 2026-07-28, except the one error the SDK answers
 * with 400 after its handler ran (`MissingRequiredClientCapability`, the input_required capability gate).
 */
function statusOf(era: Era, message: JSONRPCMessage): number {
  const code = 'error' in message ? message.error.code : undefined;
  return era === 'modern' && code === ProtocolErrorCode.MissingRequiredClientCapability ? 400 : 200;
}

/**
 * An in-process SDK transport that carries many HTTP requests to one `Server` at once. Each request gets an
 * internal JSON-RPC id, so clients' ids (every client starts at 0 or 1) never collide inside the server, and the
 * answer goes back under the client's own id.
 *
 * It is a `PerRequestHTTPServerTransport` only because that is how the SDK binds a `Server` to the 2026-07-28 era:
 * `Server.connect` reads the era from such a transport's `classification` (no other public way exists); for the
 * 2025 lane it has none. Nothing of that class's single-exchange machinery is used.
 */
export class MultiplexTransport extends PerRequestHTTPServerTransport implements Transport {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { id: RequestId; settle(message: JSONRPCMessage | undefined): void }
  >();
  /** The internal id being handed to the server right now (its synchronous dispatch gates answer meanwhile). */
  private dispatching?: number;
  private gated = false;

  constructor(private readonly classification?: MessageClassification) {
    super({ classification: classification! });
  }

  override start(): Promise<void> {
    return Promise.resolve();
  }

  /** Calls still pending get an error answer (closing the server aborts their handlers). */
  override close(): Promise<void> {
    for (const entry of this.pending.values()) {
      entry.settle({
        jsonrpc: '2.0',
        id: entry.id,
        error: { code: CONNECTION_CLOSED, message: 'Server shutting down' },
      });
    }
    this.pending.clear();
    this.onclose?.();
    return Promise.resolve();
  }

  /**
   * Only answers leave through here. Notifications about a call (`ctx.log`) are dropped, as the SDK transport
   * does for JSON responses; server→client requests never get here, since they need a session (ClientChannel).
   */
  override send(message: JSONRPCMessage): Promise<void> {
    if ('id' in message && ('result' in message || 'error' in message)) {
      const internalId = message.id as number;
      const entry = this.pending.get(internalId);
      if (entry) {
        this.pending.delete(internalId);
        if (internalId === this.dispatching) this.gated = true;
        else entry.settle({ ...message, id: entry.id });
      }
    }
    return Promise.resolve();
  }

  /**
   * Hands one request to the server. `cancel()` aborts the handler's signal; the answer is then `undefined`.
   * `undefined` instead when the server answered at once, before any handler ran (see SharedServer.serve).
   */
  dispatch(
    request: JSONRPCRequest,
    extra: MessageExtraInfo,
  ): { answer: Promise<JSONRPCMessage | undefined>; cancel: () => void } | undefined {
    const internalId = this.nextId++;
    const answer = new Promise<JSONRPCMessage | undefined>((settle) =>
      this.pending.set(internalId, { id: request.id, settle }),
    );
    const context = { ...extra, ...(this.classification && { classification: this.classification }) };
    this.dispatching = internalId;
    this.gated = false;
    try {
      this.onmessage?.({ ...request, id: internalId }, context);
    } finally {
      this.dispatching = undefined;
    }
    if (this.gated) return undefined;
    const cancel = () => {
      const entry = this.pending.get(internalId);
      if (!entry) return; // answered already
      this.pending.delete(internalId);
      entry.settle(undefined);
      this.onmessage?.(
        {
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: internalId, reason: 'client disconnected' },
        },
        context,
      );
    };
    return { answer, cancel };
  }
}
