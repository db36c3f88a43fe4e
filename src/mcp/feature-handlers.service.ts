import { Injectable } from '@nestjs/common';
import type {
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Server,
  ServerContext,
} from '@modelcontextprotocol/server';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { AccessPolicy, featureKey, type FeatureKind } from '../permissions/access-policy.service.js';
import type { LogLevelState } from '../tools/client-channel.js';
import { PromptRegistry } from '../tools/prompt-registry.service.js';
import { ResourceRegistry } from '../tools/resource-registry.service.js';
import type {
  Completer,
  PromptDefinition,
  ResourceBody,
  ResourceDefinition,
} from '../tools/resource-prompt.types.js';
import { ResourceSubscriptions } from '../tools/resource-subscriptions.service.js';
import { featureDenial } from '../tools/steps/resolve-feature.step.js';
import { protocolErrorOf } from '../tools/tool-errors.js';
import { ToolInvoker } from '../tools/tool-invoker.service.js';
import type { FeatureOperation } from '../tools/tool-pipeline.js';
import { clientOf, identityOf } from './request-identity.js';

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
 * `logging/setLevel`. Lists show each agent only what it may use. Reads, gets and completions find their
 * definition and run through the one operation pipeline (ToolInvoker): audited, authorised (AccessPolicy: scope
 * `resource:<name>` / `prompt:<name>` AND a grant for that key), run over input rounds and error-mapped like a
 * tool call; subscriptions ask AccessPolicy the same way.
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
    private readonly pipeline: ToolInvoker,
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

    server.setRequestHandler('resources/read', async (request, extra) => {
      const { uri } = request.params;
      const resolved = this.resources.resolve(uri);
      const resource = resolved?.resource;
      const result = await this.perform(
        server,
        extra,
        featureKey('resource', resource?.name ?? uri),
        { uri },
        {
          kind: 'resource',
          method: 'resources/read',
          target: resource && { kind: 'resource', name: resource.name },
          notFound: resourceNotFound(uri),
          run: async (ctx) => resource!.handler(new URL(uri), resolved!.variables, ctx),
          toResult: (value) => toReadResult(resource!, uri, value),
        },
      );
      return result as ReadResourceResult;
    });

    server.setRequestHandler('resources/subscribe', async (request, extra) => {
      await this.authorizeSubscription(extra, request.params.uri);
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

    server.setRequestHandler('prompts/get', async (request, extra) => {
      const { name, arguments: args } = request.params;
      const prompt = this.prompts.get(name);
      const result = await this.perform(server, extra, featureKey('prompt', name), args ?? {}, {
        kind: 'prompt',
        method: 'prompts/get',
        target: prompt && { kind: 'prompt', name: prompt.name },
        notFound: new DomainError('NOT_FOUND', `Unknown prompt: ${name}`),
        run: async (ctx) => prompt!.handler(parsePromptArgs(prompt!, args), ctx),
        toResult: (value) => toPromptResult(prompt!, value),
      });
      return result as GetPromptResult;
    });

    server.setRequestHandler('completion/complete', async (request, extra) => {
      const { ref, argument, context } = request.params;
      const feature =
        ref.type === 'ref/prompt'
          ? { kind: 'prompt' as const, name: ref.name, definition: this.prompts.get(ref.name) }
          : { kind: 'resource' as const, name: ref.uri, definition: this.resources.template(ref.uri) };
      const { definition } = feature;
      const result = await this.perform(
        server,
        extra,
        featureKey(feature.kind, definition?.name ?? feature.name),
        { ref, argument, ...(context && { context }) },
        {
          kind: 'completion',
          target: definition && { kind: feature.kind, name: definition.name },
          notFound:
            feature.kind === 'prompt'
              ? new DomainError('NOT_FOUND', `Unknown prompt: ${feature.name}`)
              : new DomainError('NOT_FOUND', `Resource template not found: ${feature.name}`),
          run: async () => {
            const completer: Completer | undefined = definition!.complete[argument.name];
            return completer ? completer(argument.value, { arguments: context?.arguments }) : [];
          },
          toResult: (values) => completionOf(values as string[]),
        },
      );
      return result as CompleteResult;
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
   * A resource read, prompt get or completion through the one operation pipeline (ToolInvoker): audited,
   * authorised, run over input rounds and error-mapped by the same code as a tool call. `name` is the audited
   * grant key (the URI or name as sent when unknown), `params` what the audit row digests.
   */
  private perform(
    server: Server,
    extra: Extra,
    name: string,
    params: Record<string, unknown>,
    operation: FeatureOperation,
  ): Promise<object> {
    const { principal, requestId, remoteAddr, userAgent } = identityOf(extra);
    const requestState = extra.mcpReq.requestState<string>();
    return this.pipeline.invoke(
      {
        name,
        arguments: params,
        ...(extra.mcpReq.inputResponses && { inputResponses: extra.mcpReq.inputResponses }),
        ...(typeof requestState === 'string' && { requestState }),
      },
      {
        principal,
        requestId,
        sessionId: extra.sessionId,
        remoteAddr,
        userAgent,
        signal: extra.mcpReq.signal,
        ...clientOf(server, extra),
        logger: this.logger.logger.child({ requestId, agentId: principal.agentId, [operation.kind]: name }),
      },
      operation,
    );
  }

  private async visible<T extends { name: string }>(
    extra: Extra,
    kind: FeatureKind,
    items: T[],
  ): Promise<T[]> {
    return this.policy.visibleFeatures(identityOf(extra).principal, kind, items);
  }

  /** A subscription asks the same AccessPolicy as a read, with the same answers (not an operation: not audited). */
  private async authorizeSubscription(extra: Extra, uri: string): Promise<void> {
    const resource = this.resources.resolve(uri)?.resource;
    if (!resource) throw protocolErrorOf(resourceNotFound(uri));
    const decision = await this.policy.decideFeature(identityOf(extra).principal, 'resource', resource.name);
    if (!decision.allowed) throw protocolErrorOf(featureDenial(decision, 'resource', resource.name));
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

/** An unknown resource URI (JSON-RPC -32602 with `data.code` NOT_FOUND, as 2026-07-28 requires). */
const resourceNotFound = (uri: string) => new DomainError('NOT_FOUND', `Resource not found: ${uri}`, { uri });

/** A completion's values as its result: at most MAX_COMPLETIONS, with the total. */
function completionOf(values: string[]): CompleteResult {
  return {
    completion: {
      values: values.slice(0, MAX_COMPLETIONS),
      total: values.length,
      hasMore: values.length > MAX_COMPLETIONS,
    },
  };
}

function parsePromptArgs(prompt: PromptDefinition, args: Record<string, string> | undefined): unknown {
  if (!prompt.args) return args ?? {};
  const parsed = prompt.args.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new DomainError('INVALID_ARGUMENTS', `Invalid arguments for prompt ${prompt.name}: ${issues}`);
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
