import { Injectable } from '@nestjs/common';
import {
  ProtocolError,
  ProtocolErrorCode,
  isInputRequiredResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
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
import { inputRequiredAnswer, isInputRequiredAnswer } from '../tools/input.js';
import { InputRounds } from '../tools/input-rounds.js';
import type { StateBinding } from '../tools/request-state.js';
import { clientOf, identityOf } from './request-identity.js';

/** JSON-RPC code of an unknown resource URI: -32602 on every revision (2026-07-28 made it a MUST; was -32002). */
const RESOURCE_NOT_FOUND = -32602;
/** Resources and prompts have no versions: their request states bind this one. */
const FEATURE_VERSION = '1';

/** The flow id of a read or get that spans rounds, for its audit row. */
interface Flow {
  id?: string;
}

/** `completion/complete` answers at most this many values (MCP limit). */
const MAX_COMPLETIONS = 100;

type Extra = ServerContext;

/** Capabilities of everything this class serves (merged into the server's by McpServerFactory). */
export const FEATURE_CAPABILITIES = {
  // List changes (a grant, a kill switch) reach `subscriptions/listen` streams and 2025 sessions (ChangeFeed).
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
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
    private readonly rounds: InputRounds,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('mcp');
  }

  install(server: Server, logLevel: LogLevelState): void {
    server.setRequestHandler('resources/list', async (_request, extra) => {
      const visible = await this.visible(extra, 'resource', this.resources.fixed());
      return { resources: visible.map((r) => this.descriptors().resources.get(r.name)!) };
    });

    server.setRequestHandler('resources/templates/list', async (_request, extra) => {
      const visible = await this.visible(extra, 'resource', this.resources.templated());
      return { resourceTemplates: visible.map((r) => this.descriptors().templates.get(r.name)!) };
    });

    server.setRequestHandler('resources/read', (request, extra) => {
      const { uri } = request.params;
      const name = this.resources.resolve(uri)?.resource.name ?? uri;
      return this.audited(server, extra, featureKey('resource', name), { uri }, async (flow) => {
        const { resource, variables } = await this.authorizedResource(extra, uri);
        return this.inRounds(server, extra, flow, 'resources/read', resource.name, { uri }, (ctx) =>
          this.run(ctx, () => resource.handler(new URL(uri), variables, ctx)),
        ).then((value) => (isInputRequiredResult(value) ? value : toReadResult(resource, uri, value)));
      });
    });

    server.setRequestHandler('resources/subscribe', async (request, extra) => {
      await this.authorizedResource(extra, request.params.uri);
      this.subscriptions.subscribe(server, request.params.uri);
      return {};
    });

    server.setRequestHandler('resources/unsubscribe', (request) => {
      this.subscriptions.unsubscribe(server, request.params.uri);
      return {};
    });

    server.setRequestHandler('prompts/list', async (_request, extra) => {
      const visible = await this.visible(extra, 'prompt', this.prompts.all());
      return { prompts: visible.map((p) => this.descriptors().prompts.get(p.name)!) };
    });

    server.setRequestHandler('prompts/get', (request, extra) => {
      const { name, arguments: args } = request.params;
      return this.audited(server, extra, featureKey('prompt', name), args ?? {}, async (flow) => {
        const prompt = await this.authorizedPrompt(extra, name);
        return this.inRounds(server, extra, flow, 'prompts/get', prompt.name, args ?? {}, (ctx) =>
          this.run(ctx, () => prompt.handler(parsePromptArgs(prompt, args), ctx)),
        ).then((value) => (isInputRequiredResult(value) ? value : toPromptResult(prompt, value)));
      });
    });

    server.setRequestHandler('completion/complete', async (request, extra) => {
      const { ref, argument, context } = request.params;
      let completer: Completer | undefined;
      if (ref.type === 'ref/prompt') {
        completer = (await this.authorizedPrompt(extra, ref.name)).complete[argument.name];
      } else {
        const resource = this.resources.template(ref.uri);
        if (!resource)
          throw new ProtocolError(RESOURCE_NOT_FOUND, `Resource template not found: ${ref.uri}`, {
            code: 'NOT_FOUND',
          });
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
    server.setRequestHandler('logging/setLevel', (request) => {
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
    server: Server,
    extra: Extra,
    key: string,
    params: Record<string, unknown>,
    handler: (flow: Flow) => Promise<T>,
  ): Promise<T> {
    const flow: Flow = {};
    const { ending, occurredAt, durationMs } = await settle(() => {
      // The same shape check as tools/call (AuditStep): first, and audited like any other ending.
      if (argumentsTooDeep(params)) {
        const error = new ArgumentsTooDeepError();
        throw new ProtocolError(jsonRpcCodeOf(error), error.message, { code: error.code, ...error.details });
      }
      return handler(flow);
    });
    const { principal, requestId, remoteAddr, userAgent } = identityOf(extra);
    const asked = 'result' in ending && isInputRequiredResult(ending.result);
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
        outcome: errorCode ? outcomeOfCode(errorCode) : asked ? 'input_required' : 'success',
        protocolVersion: clientOf(server, extra).protocolVersion,
        flowId: flow.id,
        errorCode,
        durationMs,
        paramBytes: digest.bytes,
        paramsSha256: digest.sha256,
        resultBytes: 'result' in ending ? resultBytes(ending.result) : undefined,
      });
    } catch (error) {
      const domain =
        error instanceof DomainError ? error : new DomainError('AUDIT_UNAVAILABLE', 'Audit failed');
      throw new ProtocolError(jsonRpcCodeOf(domain), domain.message, { code: domain.code });
    }
    if ('result' in ending) return ending.result;
    throw ending.error;
  }

  private async visible<T extends { name: string }>(
    extra: Extra,
    kind: FeatureKind,
    items: T[],
  ): Promise<T[]> {
    return this.policy.visibleFeatures(identityOf(extra).principal, kind, items);
  }

  private async authorizedResource(extra: Extra, uri: string) {
    const resolved = this.resources.resolve(uri);
    if (!resolved)
      throw new ProtocolError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { code: 'NOT_FOUND', uri });
    await this.authorize(extra, 'resource', resolved.resource.name);
    return resolved;
  }

  private async authorizedPrompt(extra: Extra, name: string): Promise<PromptDefinition> {
    const prompt = this.prompts.get(name);
    if (!prompt)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`, {
        code: 'NOT_FOUND',
      });
    await this.authorize(extra, 'prompt', prompt.name);
    return prompt;
  }

  /** Same decision and the same JSON-RPC errors as a denied `tools/call` (-32003, code in `data.code`). */
  private async authorize(extra: Extra, kind: FeatureKind, name: string): Promise<void> {
    const decision = await this.policy.decideFeature(identityOf(extra).principal, kind, name);
    if (decision.allowed) return;
    const key = featureKey(kind, name);
    const error =
      decision.reason === 'scope'
        ? new DomainError('INSUFFICIENT_SCOPE', `Token lacks scope ${key}`, { scope: key })
        : new DomainError('GRANT_DENIED', `Agent has no active grant for ${key}`, { [kind]: name });
    throw new ProtocolError(jsonRpcCodeOf(error), error.message, { code: error.code, ...error.details });
  }

  /**
   * Runs a read or get as one round of a possibly multi-round call (InputRounds, as tools/call does): a later
   * round's signed state is checked first, and an `inputRequired()` answer leaves as an input-required result.
   */
  private async inRounds(
    server: Server,
    extra: Extra,
    flow: Flow,
    method: 'resources/read' | 'prompts/get',
    name: string,
    params: Record<string, unknown>,
    handler: (ctx: FeatureContext) => Promise<unknown>,
  ): Promise<unknown> {
    const { principal, requestId } = identityOf(extra);
    const binding: StateBinding = {
      agentId: principal.agentId,
      method,
      name,
      version: FEATURE_VERSION,
      argumentsDigest: argumentsDigest({ arguments: params }).sha256,
    };
    const requestState = extra.mcpReq.requestState<string>();
    const round = asProtocolError(() =>
      this.rounds.begin(binding, {
        inputResponses: extra.mcpReq.inputResponses,
        ...(typeof requestState === 'string' && { requestState }),
      }),
    );
    flow.id = round.flowId;
    const ctx: FeatureContext = {
      principal,
      requestId,
      sessionId: extra.sessionId,
      signal: extra.mcpReq.signal,
      logger: this.logger.logger.child({
        requestId,
        agentId: principal.agentId,
        [method === 'prompts/get' ? 'prompt' : 'resource']: name,
      }),
      input: round.input,
      inputRequired: inputRequiredAnswer,
      ...clientOf(server, extra),
    };
    const value = await handler(ctx);
    if (!isInputRequiredAnswer(value)) return value;
    const asked = asProtocolError(() => this.rounds.ask(binding, round, value, ctx), true);
    flow.id = round.flowId;
    return asked;
  }

  private context(extra: Extra, what: Record<string, string>): Pick<FeatureContext, 'logger'> {
    const { principal, requestId } = identityOf(extra);
    return { logger: this.logger.logger.child({ requestId, agentId: principal.agentId, ...what }) };
  }

  /** Runs a handler: McpErrors pass, DomainErrors keep their message and code, anything else is generic. */
  private async run<T>(
    ctx: Pick<FeatureContext, 'logger'>,
    handler: () => T | Promise<T>,
  ): Promise<Awaited<T>> {
    try {
      return await handler();
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      if (error instanceof DomainError) {
        const code = isProtocolError(error) ? jsonRpcCodeOf(error) : ProtocolErrorCode.InternalError;
        throw new ProtocolError(code, error.message, { code: error.code, ...error.details });
      }
      ctx.logger.error({ err: error }, 'resource, prompt or completion handler failed');
      throw new ProtocolError(ProtocolErrorCode.InternalError, 'Internal error');
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

/**
 * A DomainError meant for the protocol (e.g. a refused request state) as the SDK's JSON-RPC error; with `all`,
 * any DomainError (a client that cannot answer a request for input: invalid request, the code in `data`).
 */
function asProtocolError<T>(run: () => T, all = false): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof DomainError && (all || isProtocolError(error))) {
      const code = isProtocolError(error) ? jsonRpcCodeOf(error) : ProtocolErrorCode.InvalidRequest;
      throw new ProtocolError(code, error.message, { code: error.code, ...error.details });
    }
    throw error;
  }
}

/** The domain code of a feature handler's error (McpErrors carry it in `data.code`). */
function domainCodeOf(error: unknown): string {
  const code = ((error as ProtocolError).data as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return (error as ProtocolError).code === RESOURCE_NOT_FOUND ? 'NOT_FOUND' : 'INTERNAL_ERROR';
}

function parsePromptArgs(prompt: PromptDefinition, args: Record<string, string> | undefined): unknown {
  if (!prompt.args) return args ?? {};
  const parsed = prompt.args.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Invalid arguments for prompt ${prompt.name}: ${issues}`,
    {
      code: 'INVALID_ARGUMENTS',
    },
  );
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
