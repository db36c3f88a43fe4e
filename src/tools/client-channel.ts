import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { DomainError } from '../common/domain-error.js';

/**
 * What a tool handler can say to the MCP client while it runs (`ctx.progress`, `ctx.log`) and ask of it
 * (`ctx.elicit`, `ctx.sample`). Built per request from the SDK handler's `extra`.
 */
export interface ClientChannel {
  /** Sends `notifications/progress` when the request carried `_meta.progressToken`; otherwise does nothing. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Sends `notifications/message` at `level` unless the client asked for less (`logging/setLevel`). */
  log(level: LoggingLevel, data: unknown, logger?: string): Promise<void>;
  /** `elicitation/create`: asks the user for input. Needs a stateful session and a client that supports it. */
  elicit(params: ElicitRequest['params']): Promise<ElicitResult>;
  /** `sampling/createMessage`: asks the client's LLM. Needs a stateful session and a client that supports it. */
  sample(params: CreateMessageRequest['params']): Promise<CreateMessageResult>;
  /**
   * Ends this call's SSE response stream now (MCP "polling"): the client reconnects after a short delay with
   * `Last-Event-ID` and receives what follows, the result included, so a long call holds no connection open.
   * Only in a stateful session with a 2025-11-25 client; answers false (and does nothing) otherwise.
   */
  closeStream(): boolean;
}

/** RFC 5424 severities, least severe first (MCP `LoggingLevel`). */
export const LOG_LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

/** Where a call has no client to talk to (pipeline used directly, e.g. from a test): notifications are dropped. */
export const NO_CLIENT_CHANNEL: ClientChannel = {
  progress: () => Promise.resolve(),
  log: () => Promise.resolve(),
  elicit: () => Promise.reject(unavailable('elicitation', 'this call has no MCP client')),
  sample: () => Promise.reject(unavailable('sampling', 'this call has no MCP client')),
  closeStream: () => false,
};

/** The per-server logging level a client chose with `logging/setLevel` (unset = send everything). */
export class LogLevelState {
  level?: LoggingLevel;

  allows(level: LoggingLevel): boolean {
    return this.level === undefined || LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(this.level);
  }
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * The channel of one request. Notifications travel on the request's own response stream (`relatedRequestId`),
 * so they reach the client in stateless mode too when the response is SSE. Server→client requests need a session:
 * a stateless request has no stream the client's answer could come back on.
 */
export function clientChannel(server: Server, extra: Extra, logLevel: LogLevelState): ClientChannel {
  const progressToken = extra._meta?.progressToken;
  const capable = (feature: 'elicitation' | 'sampling') => {
    if (!extra.sessionId)
      throw unavailable(feature, 'it needs a stateful MCP session (MCP_SESSION_MODE=stateful)');
    const capabilities = server.getClientCapabilities();
    if (!capabilities)
      throw unavailable(
        feature,
        "this replica did not see the session's initialize; retry on the one that did",
      );
    if (!capabilities[feature])
      throw unavailable(feature, `the client did not declare the ${feature} capability`);
  };
  return {
    progress: async (progress, total, message) => {
      if (progressToken === undefined) return;
      await extra.sendNotification({
        method: 'notifications/progress',
        params: {
          progressToken,
          progress,
          ...(total !== undefined && { total }),
          ...(message !== undefined && { message }),
        },
      });
    },
    log: async (level, data, logger) => {
      if (!logLevel.allows(level)) return;
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level, data, ...(logger !== undefined && { logger }) },
      });
    },
    elicit: async (params) => {
      capable('elicitation');
      return extra.sendRequest({ method: 'elicitation/create', params }, ElicitResultSchema);
    },
    sample: async (params) => {
      capable('sampling');
      return extra.sendRequest({ method: 'sampling/createMessage', params }, CreateMessageResultSchema);
    },
    closeStream: () => {
      if (!extra.closeSSEStream) return false;
      extra.closeSSEStream();
      return true;
    },
  };
}

function unavailable(feature: string, why: string): DomainError {
  return new DomainError('CLIENT_UNSUPPORTED', `Cannot use ${feature}: ${why}`, { feature });
}
