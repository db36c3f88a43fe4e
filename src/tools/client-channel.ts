import type {
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  LoggingLevel,
  Server,
  ServerContext,
} from '@modelcontextprotocol/server';
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
  /**
   * `elicitation/create` pushed on a 2025 session (the client must support it). Prefer `ctx.inputRequired()`,
   * which works in both eras; this push form fails on 2026-07-28 requests and without a session.
   */
  elicit(params: ElicitRequest['params']): Promise<ElicitResult>;
  /** `sampling/createMessage` pushed on a 2025 session; as `elicit`, prefer `ctx.inputRequired()`. */
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

/**
 * The channel of one request. Notifications travel on the request's own response stream (`relatedRequestId`),
 * so they reach a sessionless client too when the response is SSE; on 2026-07-28 requests the SDK sends log
 * messages only when the request asked for a level. Server→client requests need a 2025 session: a sessionless
 * request has no stream the client's answer could come back on (2026-07-28 asks with input-required results).
 */
export function clientChannel(server: Server, ctx: ServerContext, logLevel: LogLevelState): ClientChannel {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  const modern = ctx.mcpReq.envelope !== undefined;
  const capable = (feature: 'elicitation' | 'sampling') => {
    if (modern) throw unavailable(feature, 'a 2026-07-28 request asks with ctx.inputRequired()');
    if (!ctx.sessionId) throw unavailable(feature, 'it needs a 2025 session (initialize first)');
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
      await ctx.mcpReq.notify({
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
      // 2026-07-28: the SDK filters by the level the request asked for (none asked: nothing is sent).
      if (modern) return ctx.mcpReq.log(level, data, logger);
      if (!logLevel.allows(level)) return;
      await ctx.mcpReq.notify({
        method: 'notifications/message',
        params: { level, data, ...(logger !== undefined && { logger }) },
      });
    },
    elicit: async (params) => {
      capable('elicitation');
      return ctx.mcpReq.elicitInput(params);
    },
    sample: async (params) => {
      capable('sampling');
      return (await ctx.mcpReq.requestSampling(params)) as CreateMessageResult;
    },
    closeStream: () => {
      if (!ctx.http?.closeSSE) return false;
      ctx.http.closeSSE();
      return true;
    },
  };
}

function unavailable(feature: string, why: string): DomainError {
  return new DomainError('CLIENT_UNSUPPORTED', `Cannot use ${feature}: ${why}`, { feature });
}
