import { Injectable } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { PinoLogger } from 'nestjs-pino';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { DomainError } from '../common/domain-error.js';
import { AccessPolicy, featureKey, type FeatureKind } from '../permissions/access-policy.service.js';
import type { LogLevelState } from '../tools/client-channel.js';
import { PromptRegistry } from '../tools/prompt-registry.service.js';
import { ResourceRegistry } from '../tools/resource-registry.service.js';
import type {
  Completer,
  FeatureContext,
  PromptDefinition,
  ResourceBody,
  ResourceDefinition,
} from '../tools/resource-prompt.types.js';
import { ResourceSubscriptions } from '../tools/resource-subscriptions.service.js';
import { argumentsDigest, argumentsTooDeep, resultBytes } from '../tools/call-size.js';
import { ArgumentsTooDeepError } from '../tools/steps/validation.step.js';
import { isProtocolError, jsonRpcCodeOf, outcomeOfCode, settle } from '../tools/tool-errors.js';
import type { RequestIdentity } from './mcp-server.factory.js';

/** JSON-RPC code the MCP spec gives an unknown resource URI. */
const RESOURCE_NOT_FOUND = -32002;
/** `completion/complete` answers at most this many values (MCP limit). */
const MAX_COMPLETIONS = 100;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Capabilities of everything this class serves (merged into the server's by McpServerFactory). */
export const FEATURE_CAPABILITIES = {
  resources: { subscribe: true, listChanged: false },
  prompts: { listChanged: false },
  completions: {},
  logging: {},
};

/**
 * The MCP methods beyond tools: resources (fixed and templated, subscribe), prompts, completions and
 * `logging/setLevel`. Lists show each agent only what it may use; reads, gets, subscriptions and completions ask
 * AccessPolicy (scope `resource:<name>` / `prompt:<name>` AND a grant for that key) on every request; reads and
 * gets are audited like tool calls.
 * Descriptors are built once; installing the handlers on a per-request server allocates closures only.
 */
@Injectable()
export class McpFeatureHandlers {
  private resourceDescriptors?: Map<string, Resource>;
  private templateDescriptors?: Map<string, ResourceTemplate>;
  private promptDescriptors?: Map<string, Prompt>;

  constructor(
    private readonly resources: ResourceRegistry,
    private readonly prompts: PromptRegistry,
    private readonly policy: AccessPolicy,
    private readonly subscriptions: ResourceSubscriptions,
    private readonly audit: AuditRecorder,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('mcp');
  }

  install(server: Server, logLevel: LogLevelState): void {
    server.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => {
      const visible = await this.visible(extra, 'resource', this.resources.fixed());
      return { resources: visible.map((r) => this.descriptors().resources.get(r.name)!) };
    });

    server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_request, extra) => {
      const visible = await this.visible(extra, 'resource', this.resources.templated());
      return { resourceTemplates: visible.map((r) => this.descriptors().templates.get(r.name)!) };
    });

    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => {
      const { uri } = request.params;
      const name = this.resources.resolve(uri)?.resource.name ?? uri;
      return this.audited(extra, featureKey('resource', name), { uri }, async () => {
        const { resource, variables } = await this.authorizedResource(extra, uri);
        const ctx = this.context(extra, { resource: resource.name });
        const value = await this.run(ctx, () => resource.handler(new URL(uri), variables, ctx));
        return toReadResult(resource, uri, value);
      });
    });

    server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
      await this.authorizedResource(extra, request.params.uri);
      this.subscriptions.subscribe(server, request.params.uri);
      return {};
    });

    server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
      this.subscriptions.unsubscribe(server, request.params.uri);
      return {};
    });

    server.setRequestHandler(ListPromptsRequestSchema, async (_request, extra) => {
      const visible = await this.visible(extra, 'prompt', this.prompts.all());
      return { prompts: visible.map((p) => this.descriptors().prompts.get(p.name)!) };
    });

    server.setRequestHandler(GetPromptRequestSchema, (request, extra) => {
      const { name, arguments: args } = request.params;
      return this.audited(extra, featureKey('prompt', name), args ?? {}, async () => {
        const prompt = await this.authorizedPrompt(extra, name);
        const ctx = this.context(extra, { prompt: prompt.name });
        const value = await this.run(ctx, () => prompt.handler(parsePromptArgs(prompt, args), ctx));
        return toPromptResult(prompt, value);
      });
    });

    server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
      const { ref, argument, context } = request.params;
      let completer: Completer | undefined;
      if (ref.type === 'ref/prompt') {
        completer = (await this.authorizedPrompt(extra, ref.name)).complete[argument.name];
      } else {
        const resource = this.resources.template(ref.uri);
        if (!resource) throw new McpError(RESOURCE_NOT_FOUND, `Resource template not found: ${ref.uri}`);
        await this.authorize(extra, 'resource', resource.name);
        completer = resource.complete[argument.name];
      }
      if (!completer) return { completion: { values: [] } };
      const ctx = this.context(extra, { completion: argument.name });
      const values = await this.run(ctx, async () =>
        completer(argument.value, { arguments: context?.arguments }),
      );
      return {
        completion: {
          values: values.slice(0, MAX_COMPLETIONS),
          total: values.length,
          hasMore: values.length > MAX_COMPLETIONS,
        },
      };
    });

    // Replaces the SDK's own handler: the level must also filter `ctx.log()`, which sends on the request's stream.
    server.setRequestHandler(SetLevelRequestSchema, (request) => {
      logLevel.level = request.params.level;
      return {};
    });

    const previousOnClose = server.onclose;
    server.onclose = () => {
      this.subscriptions.drop(server);
      previousOnClose?.();
    };
  }

  /**
   * One durable audit row per resource read and prompt get, as for a tool call (AuditStep): kind `tool_call`, the
   * grant key (`resource:<name>`, `prompt:<name>`; the URI or name as sent when unknown) as `tool_name`, the
   * outcome (denials included) and the parameters' size and SHA-256. The answer goes out only once the row is
   * committed; without the audit trail, the read fails (AUDIT_UNAVAILABLE).
   */
  private async audited<T extends object>(
    extra: Extra,
    key: string,
    params: Record<string, unknown>,
    handler: () => Promise<T>,
  ): Promise<T> {
    const { ending, occurredAt, durationMs } = await settle(() => {
      // The same shape check as tools/call (AuditStep): first, and audited like any other ending.
      if (argumentsTooDeep(params)) {
        const error = new ArgumentsTooDeepError();
        throw new McpError(jsonRpcCodeOf(error), error.message, { code: error.code, ...error.details });
      }
      return handler();
    });
    const { principal, requestId, remoteAddr, userAgent } = identityOf(extra.authInfo);
    const errorCode = 'error' in ending ? domainCodeOf(ending.error) : undefined;
    const digest = argumentsDigest({ arguments: params });
    try {
      await this.audit.record({
        kind: 'tool_call',
        occurredAt,
        agentId: principal.agentId,
        clientId: principal.clientId,
        requestId,
        sessionId: extra.sessionId,
        remoteAddr,
        userAgent,
        toolName: key,
        outcome: errorCode ? outcomeOfCode(errorCode) : 'success',
        errorCode,
        durationMs,
        paramBytes: digest.bytes,
        paramsSha256: digest.sha256,
        resultBytes: 'result' in ending ? resultBytes(ending.result) : undefined,
      });
    } catch (error) {
      const domain =
        error instanceof DomainError ? error : new DomainError('AUDIT_UNAVAILABLE', 'Audit failed');
      throw new McpError(jsonRpcCodeOf(domain), domain.message, { code: domain.code });
    }
    if ('result' in ending) return ending.result;
    throw ending.error;
  }

  private async visible<T extends { name: string }>(
    extra: Extra,
    kind: FeatureKind,
    items: T[],
  ): Promise<T[]> {
    return this.policy.visibleFeatures(identityOf(extra.authInfo).principal, kind, items);
  }

  private async authorizedResource(extra: Extra, uri: string) {
    const resolved = this.resources.resolve(uri);
    if (!resolved) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
    await this.authorize(extra, 'resource', resolved.resource.name);
    return resolved;
  }

  private async authorizedPrompt(extra: Extra, name: string): Promise<PromptDefinition> {
    const prompt = this.prompts.get(name);
    if (!prompt)
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`, { code: 'NOT_FOUND' });
    await this.authorize(extra, 'prompt', prompt.name);
    return prompt;
  }

  /** Same decision and the same JSON-RPC errors as a denied `tools/call` (-32003, code in `data.code`). */
  private async authorize(extra: Extra, kind: FeatureKind, name: string): Promise<void> {
    const decision = await this.policy.decideFeature(identityOf(extra.authInfo).principal, kind, name);
    if (decision.allowed) return;
    const key = featureKey(kind, name);
    const error =
      decision.reason === 'scope'
        ? new DomainError('INSUFFICIENT_SCOPE', `Token lacks scope ${key}`, { scope: key })
        : new DomainError('GRANT_DENIED', `Agent has no active grant for ${key}`, { [kind]: name });
    throw new McpError(jsonRpcCodeOf(error), error.message, { code: error.code, ...error.details });
  }

  private context(extra: Extra, what: Record<string, string>): FeatureContext {
    const { principal, requestId } = identityOf(extra.authInfo);
    return {
      principal,
      requestId,
      sessionId: extra.sessionId,
      signal: extra.signal,
      logger: this.logger.logger.child({ requestId, agentId: principal.agentId, ...what }),
    };
  }

  /** Runs a handler: McpErrors pass, DomainErrors keep their message and code, anything else is generic. */
  private async run<T>(ctx: FeatureContext, handler: () => T | Promise<T>): Promise<Awaited<T>> {
    try {
      return await handler();
    } catch (error) {
      if (error instanceof McpError) throw error;
      if (error instanceof DomainError) {
        const code = isProtocolError(error) ? jsonRpcCodeOf(error) : ErrorCode.InternalError;
        throw new McpError(code, error.message, { code: error.code, ...error.details });
      }
      ctx.logger.error({ err: error }, 'resource, prompt or completion handler failed');
      throw new McpError(ErrorCode.InternalError, 'Internal error');
    }
  }

  private descriptors() {
    this.resourceDescriptors ??= new Map(
      this.resources.fixed().map((r) => [
        r.name,
        {
          uri: r.uri!,
          name: r.name,
          ...(r.title && { title: r.title }),
          description: r.description,
          ...(r.mimeType && { mimeType: r.mimeType }),
        },
      ]),
    );
    this.templateDescriptors ??= new Map(
      this.resources.templated().map((r) => [
        r.name,
        {
          uriTemplate: r.uriTemplate!,
          name: r.name,
          ...(r.title && { title: r.title }),
          description: r.description,
          ...(r.mimeType && { mimeType: r.mimeType }),
        },
      ]),
    );
    this.promptDescriptors ??= new Map(
      this.prompts.all().map((p) => [
        p.name,
        {
          name: p.name,
          ...(p.title && { title: p.title }),
          description: p.description,
          ...(p.arguments.length > 0 && { arguments: p.arguments }),
        },
      ]),
    );
    return {
      resources: this.resourceDescriptors,
      templates: this.templateDescriptors,
      prompts: this.promptDescriptors,
    };
  }
}

/** The domain code of a feature handler's error (McpErrors carry it in `data.code`). */
function domainCodeOf(error: unknown): string {
  const code = ((error as McpError).data as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return (error as McpError).code === RESOURCE_NOT_FOUND ? 'NOT_FOUND' : 'INTERNAL_ERROR';
}

function parsePromptArgs(prompt: PromptDefinition, args: Record<string, string> | undefined): unknown {
  if (!prompt.args) return args ?? {};
  const parsed = prompt.args.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for prompt ${prompt.name}: ${issues}`, {
    code: 'INVALID_ARGUMENTS',
  });
}

/** A handler's value as `ReadResourceResult`: a text, one or several bodies (uri/mimeType filled in), or a result. */
function toReadResult(resource: ResourceDefinition, uri: string, value: unknown): ReadResourceResult {
  if (typeof value === 'object' && value !== null && Array.isArray((value as ReadResourceResult).contents))
    return value as ReadResourceResult;
  const fill = (body: ResourceBody) => ({
    uri,
    ...(resource.mimeType && { mimeType: resource.mimeType }),
    ...body,
  });
  if (typeof value === 'string') return { contents: [fill({ text: value })] };
  if (Array.isArray(value)) return { contents: (value as ResourceBody[]).map(fill) };
  if (typeof value === 'object' && value !== null && ('text' in value || 'blob' in value))
    return { contents: [fill(value as ResourceBody)] };
  throw new DomainError('INTERNAL_ERROR', `Resource ${resource.name} returned no contents`);
}

/** A handler's value as `GetPromptResult`: a text (one user message), a message list, or a result. */
function toPromptResult(prompt: PromptDefinition, value: unknown): GetPromptResult {
  const withDescription = (messages: GetPromptResult['messages']) => ({
    description: prompt.description,
    messages,
  });
  if (typeof value === 'string')
    return withDescription([{ role: 'user', content: { type: 'text', text: value } }]);
  if (Array.isArray(value)) return withDescription(value as GetPromptResult['messages']);
  if (typeof value === 'object' && value !== null && Array.isArray((value as GetPromptResult).messages))
    return value as GetPromptResult;
  throw new DomainError('INTERNAL_ERROR', `Prompt ${prompt.name} returned no messages`);
}

function identityOf(authInfo: Extra['authInfo']): RequestIdentity {
  const identity = authInfo?.extra?.identity as RequestIdentity | undefined;
  // McpController always attaches one; reaching here without it is a wiring bug, not a client error.
  if (!identity) throw new McpError(ErrorCode.InternalError, 'Request identity missing');
  return identity;
}
