import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
  type Server,
  type Transport,
} from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sdkMessageOf, type RequestView } from '../common/request-view.js';
import { McpServerFactory } from './mcp-server.factory.js';

/** JSON-RPC code of a call cut short by the server closing (v1's ErrorCode.ConnectionClosed; v2 has no number). */
const CONNECTION_CLOSED = -32000;

/**
 * Methods the shared server answers. They keep no per-connection state in the SDK `Server`: `initialize` (client
 * capabilities), `logging/setLevel` and `resources/subscribe` do, so they keep a server of their own.
 */
const SHARED_METHODS = new Set(['tools/call', 'tools/list', 'ping']);

/**
 * The stateless hot path: ONE long-lived SDK `Server` answers every plain stateless POST (a single JSON-RPC
 * request of a method above, answered with JSON). The SDK's own stateless pattern, a new server and HTTP transport
 * per request, spends most of each call building them and converting the request to a Web `Request` and back
 * (see TOOLCHAIN.md); here a request costs a map entry. Everything else (batches, notifications, progress, SSE,
 * bad headers, `initialize`) still goes through the SDK transport, so its HTTP-level checks and errors are the SDK's.
 */
@Injectable()
export class SharedServer implements OnModuleInit, OnApplicationShutdown {
  private readonly transport = new MultiplexTransport();
  private server?: Server;

  constructor(private readonly factory: McpServerFactory) {}

  async onModuleInit(): Promise<void> {
    this.server = this.factory.create();
    await this.server.connect(this.transport);
  }

  /** After the listener has closed and in-flight calls have finished (closing aborts any still running). */
  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }

  /** Can this request take the shared server? The same header checks as the SDK transport, or it goes there. */
  accepts(req: FastifyRequest, view: RequestView): boolean {
    const { accept, 'content-type': contentType, 'mcp-protocol-version': version } = req.headers;
    return (
      view.kind === 'request' &&
      !view.batch &&
      SHARED_METHODS.has(view.method!) &&
      view.progressToken === undefined && // progress needs an SSE response
      !!accept?.includes('application/json') &&
      accept.includes('text/event-stream') &&
      contentType?.split(';', 1)[0].trim().toLowerCase() === 'application/json' &&
      (version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version as string))
    );
  }

  /** Answers an accepted request with JSON; a client that goes away cancels the call (its `ctx.signal`). */
  async serve(req: FastifyRequest, reply: FastifyReply, extra: MessageExtraInfo): Promise<void> {
    reply.hijack();
    const { answer, cancel } = this.transport.dispatch(sdkMessageOf(req) as JSONRPCRequest, extra);
    reply.raw.once('close', cancel);
    const message = await answer;
    if (!message || reply.raw.destroyed) return;
    const json = JSON.stringify(message);
    reply.raw
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
      .end(json);
  }
}

/**
 * An in-process SDK transport that carries many HTTP requests to one `Server` at once. Each request gets an
 * internal JSON-RPC id, so clients' ids (every client starts at 0 or 1) never collide inside the server, and the
 * answer goes back under the client's own id.
 */
export class MultiplexTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { id: RequestId; settle(message: JSONRPCMessage | undefined): void }
  >();

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Calls still pending get an error answer (closing the server aborts their handlers). */
  close(): Promise<void> {
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
  send(message: JSONRPCMessage): Promise<void> {
    if ('id' in message && ('result' in message || 'error' in message)) {
      const internalId = message.id as number;
      const entry = this.pending.get(internalId);
      if (entry) {
        this.pending.delete(internalId);
        entry.settle({ ...message, id: entry.id });
      }
    }
    return Promise.resolve();
  }

  /** Hands one request to the server. `cancel()` aborts the handler's signal; the answer is then `undefined`. */
  dispatch(
    request: JSONRPCRequest,
    extra: MessageExtraInfo,
  ): { answer: Promise<JSONRPCMessage | undefined>; cancel: () => void } {
    const internalId = this.nextId++;
    const answer = new Promise<JSONRPCMessage | undefined>((settle) =>
      this.pending.set(internalId, { id: request.id, settle }),
    );
    this.onmessage?.({ ...request, id: internalId }, extra);
    const cancel = () => {
      const entry = this.pending.get(internalId);
      if (!entry) return; // answered already
      this.pending.delete(internalId);
      entry.settle(undefined);
      this.onmessage?.({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: internalId, reason: 'client disconnected' },
      });
    };
    return { answer, cancel };
  }
}
