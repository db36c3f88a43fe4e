import {
  CLIENT_CAPABILITIES_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  UnsupportedProtocolVersionError,
  classifyInboundRequest,
  isInitializeRequest,
  isJSONRPCNotification,
  isJSONRPCRequest,
  type InboundClassificationOutcome,
  type InitializeRequest,
} from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { DomainError } from './domain-error.js';
import { isMcpRoute } from './mcp-route.js';
import {
  decodeMirroredValue,
  paramHeaderProblem,
  paramHeadersOf,
  stripOws,
  type ParamHeaderProblem,
} from './mirrored-headers.js';

export type Era = 'modern' | 'legacy';

/**
 * One POST /mcp as every guard, the controller and the dispatcher read it. This module is the only one that parses
 * or reads a request body (ESLint `local/request-body-only-in-request-view`, docs/architecture.md).
 */
export interface RequestView {
  /** As the SDK's `isLegacyRequest` decides it: `modern` also for what only the modern path answers (rejections). */
  era: Era;
  /** One JSON-RPC message (batches: `batch: true`, the fields below describe nothing; see `messages`). */
  batch: boolean;
  /** `invalid`: not a JSON-RPC message (or a batch the SDK refuses); the fields below are read from its shape. */
  kind: 'request' | 'notification' | 'response' | 'invalid';
  method?: string;
  id?: string | number | null;
  /** `params.name` of tools/call and prompts/get (validated against Mcp-Name on modern). */
  name?: string;
  /** `params.uri` of resources/read|subscribe|unsubscribe. */
  uri?: string;
  /** `params._meta` as sent (a plain object), envelope keys included. */
  meta?: Record<string, unknown>;
  progressToken?: string | number;
  /** Modern: envelope protocolVersion; legacy: MCP-Protocol-Version header (undefined if absent). */
  protocolVersion?: string;
  /** Modern: envelope clientCapabilities. */
  clientCapabilities?: Record<string, unknown>;
  /** Legacy session id header, when present and a single string. */
  sessionId?: string;
  /** A valid `initialize` request's params: what its 2025 session is opened with. */
  initialize?: InitializeRequest['params'];
  /** `subscriptions/listen`: the resource URIs it subscribes to (the feed checks access for these only). */
  resourceSubscriptions?: string[];
  /** A batch's messages, each viewed on its own (legacy era; never batches themselves). */
  messages?: RequestView[];
}

/**
 * The modern revisions the SDK serves (its `SUPPORTED_MODERN_PROTOCOL_VERSIONS` is internal; request-view.spec.ts
 * checks this list against the SDK handler's own -32022 answer).
 */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];
/** Revisions are dates: a version at or after this one belongs to the modern era (the SDK's rule). */
const FIRST_MODERN_VERSION = '2026-07-28';

/** The body field `Mcp-Name` mirrors, per method (spec "Standard Request Headers"; tasks/* per SEP-2663). */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri' | 'taskId'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};
const URI_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

interface StandardHeaders {
  protocolVersionHeader?: string;
  mcpMethodHeader?: string;
  mcpNameHeader?: string;
}

/** What a view was built from, kept for the header checks (which run later, after authentication). */
interface Parsed {
  /** The parsed JSON body as sent. */
  body: unknown;
  view: RequestView;
  outcome: InboundClassificationOutcome;
  headers: StandardHeaders;
  params?: Record<string, unknown>;
}

const parsed = new WeakMap<object, Parsed>();

/**
 * The view of a POST /mcp (undefined for anything else), built on first use and kept for the request. Call it
 * only once the body is parsed: from guards, interceptors and handlers, never from an onRequest/preParsing hook.
 */
export function requestViewOf(req: FastifyRequest): RequestView | undefined {
  return parsedOf(req)?.view;
}

/**
 * The parsed body of a POST /mcp (undefined for anything else), to hand unchanged to the SDK transports, which
 * validate it themselves. What this server decides about a request, it decides on the view.
 */
export function sdkMessageOf(req: FastifyRequest): unknown {
  return parsedOf(req)?.body;
}

/**
 * Our JSON body parser for every route, in place of Fastify's: a malformed body is a JSON-RPC parse error
 * (-32700), not a generic 400.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch {
      done(new DomainError('PARSE_ERROR', 'Body is not valid JSON'), undefined);
    }
  });
}

function parsedOf(req: FastifyRequest): Parsed | undefined {
  if (req.method !== 'POST' || !isMcpRoute(req)) return undefined;
  let entry = parsed.get(req);
  if (!entry) {
    const headers: StandardHeaders = {
      protocolVersionHeader: headerOf(req, 'mcp-protocol-version'),
      mcpMethodHeader: headerOf(req, 'mcp-method'),
      mcpNameHeader: headerOf(req, 'mcp-name'),
    };
    entry = parse(req.body, headers, req.headers['mcp-session-id']);
    parsed.set(req, entry);
  }
  return entry;
}

function parse(body: unknown, headers: StandardHeaders, sessionHeader: unknown): Parsed {
  const outcome = classify(body, headers);
  const era: Era = outcome.kind === 'legacy' ? 'legacy' : 'modern';
  if (Array.isArray(body)) {
    const messages = body.map((message: unknown) => viewOf(message, 'legacy', kindOf(message), headers));
    const kind = outcome.kind === 'reject' ? 'invalid' : 'request';
    return { body, view: { era, batch: true, kind, messages }, outcome, headers };
  }
  const kind =
    outcome.kind === 'reject' && outcome.rung === 'jsonrpc-shape'
      ? 'invalid'
      : outcome.kind === 'modern'
        ? outcome.messageKind
        : kindOf(body);
  const view = viewOf(body, era, kind, headers);
  if (era === 'legacy' && typeof sessionHeader === 'string') view.sessionId = sessionHeader;
  return { body, view, outcome, headers, params: paramsOf(body) };
}

/**
 * The SDK's era decision (`classifyInboundRequest`, the code behind `isLegacyRequest`). Its cost is mostly two
 * failed zod parses (is the body a response?), 7–18 µs a request on this 2-core machine; a request or notification that claims no
 * modern envelope and names no modern version is legacy by its first rules, decided here in < 1 µs with the
 * SDK's own guards (the schemas are strict: a request can never also parse as a response).
 */
function classify(body: unknown, headers: StandardHeaders): InboundClassificationOutcome {
  const version = headers.protocolVersionHeader;
  const modernHeader = version !== undefined && stripOws(version) >= FIRST_MODERN_VERSION;
  if (!Array.isArray(body) && isObject(body) && !modernHeader && !claimsEnvelope(body.params)) {
    if (isJSONRPCRequest(body))
      return { kind: 'legacy', reason: body.method === 'initialize' ? 'initialize' : 'no-claim' };
    if (isJSONRPCNotification(body)) return { kind: 'legacy', reason: 'notification' };
  }
  if (body === undefined) return { kind: 'legacy', reason: 'no-claim' }; // the SDK's "no JSON body": legacy
  return classifyInboundRequest({ httpMethod: 'POST', ...headers, body });
}

function claimsEnvelope(params: unknown): boolean {
  return isObject(params) && isObject(params._meta) && PROTOCOL_VERSION_META_KEY in params._meta;
}

/** The message kind by shape alone (legacy routes carry none; the transport validates them itself). */
function kindOf(message: unknown): RequestView['kind'] {
  if (!isObject(message)) return 'invalid';
  if (typeof message.method === 'string') return 'id' in message ? 'request' : 'notification';
  return 'result' in message || 'error' in message ? 'response' : 'invalid';
}

function viewOf(
  message: unknown,
  era: Era,
  kind: RequestView['kind'],
  headers: StandardHeaders,
): RequestView {
  const view: RequestView = { era, batch: false, kind };
  if (!isObject(message)) return view;
  const { method, id } = message;
  const params = paramsOf(message);
  const meta = isObject(params?._meta) ? params._meta : undefined;
  if (typeof method === 'string') view.method = method;
  if (typeof id === 'string' || typeof id === 'number' || id === null) view.id = id;
  if (typeof params?.name === 'string' && (method === 'tools/call' || method === 'prompts/get'))
    view.name = params.name;
  if (typeof params?.uri === 'string' && URI_METHODS.has(method as string)) view.uri = params.uri;
  if (meta) view.meta = meta;
  if (method === 'initialize' && isInitializeRequest(message)) view.initialize = message.params;
  if (method === 'subscriptions/listen') view.resourceSubscriptions = resourceSubscriptionsOf(params);
  const progressToken = meta?.progressToken;
  if (typeof progressToken === 'string' || typeof progressToken === 'number')
    view.progressToken = progressToken;
  if (era === 'modern') {
    const version = meta?.[PROTOCOL_VERSION_META_KEY];
    const capabilities = meta?.[CLIENT_CAPABILITIES_META_KEY];
    view.protocolVersion =
      typeof version === 'string'
        ? version
        : headers.protocolVersionHeader && stripOws(headers.protocolVersionHeader);
    if (isObject(capabilities)) view.clientCapabilities = capabilities;
  } else if (headers.protocolVersionHeader !== undefined) {
    view.protocolVersion = headers.protocolVersionHeader;
  }
  return view;
}

/**
 * SECURITY.md F4/F5 for a modern request, in the SDK handler's order (so both answer alike, and ours comes first,
 * before any scope or grant is decided on the body): envelope and header/body cross-checks from the classifier
 * (-32020, -32602), the revision (-32022), the standard headers (-32020: `MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name`), then the `Mcp-Param-*` headers the called tool declares (-32020). Legacy requests pass untouched.
 * `inputSchemaOf` names the JSON input schema of the tool a `tools/call` will run, if any.
 */
export function checkModernRequest(
  req: FastifyRequest,
  served: AppConfig['mcp']['era'],
  inputSchemaOf: (name: string, meta?: Record<string, unknown>) => Record<string, unknown> | undefined,
): void {
  const entry = parsedOf(req);
  if (!entry || entry.view.era !== 'modern' || entry.view.kind === 'invalid') return;
  const { view, outcome, headers, params } = entry;
  const id = view.id ?? null;
  if (served === 'legacy') throw unsupported(id, view.protocolVersion, SUPPORTED_PROTOCOL_VERSIONS);
  if (outcome.kind === 'reject') {
    // The classifier's own cells: a malformed or missing envelope (-32602), or a version / method header that
    // contradicts the body (-32020; its cell names which).
    if (outcome.rung === 'envelope')
      throw new ProtocolRequestError(
        'INVALID_ENVELOPE',
        outcome.message,
        id,
        outcome.data as Record<string, unknown>,
      );
    throw mismatch(id, outcome.cell.includes('method') ? 'Mcp-Method' : 'MCP-Protocol-Version', 'mismatch');
  }
  if (outcome.kind !== 'modern') return;
  const revision = outcome.classification.revision;
  if (revision === undefined || !MODERN_PROTOCOL_VERSIONS.includes(revision)) {
    // Only what `server/discover` lists (the conformance suite checks it): a client that speaks none of them
    // learns about the 2025 revisions by sending `initialize`.
    throw unsupported(id, revision ?? 'unknown', MODERN_PROTOCOL_VERSIONS);
  }
  if (view.kind !== 'request') return; // notifications need no standard headers (as in the SDK)
  if (headers.protocolVersionHeader === undefined) throw mismatch(id, 'MCP-Protocol-Version', 'missing');
  if (headers.mcpMethodHeader === undefined) throw mismatch(id, 'Mcp-Method', 'missing');
  const field = Object.hasOwn(NAME_SOURCE, view.method!) ? NAME_SOURCE[view.method!] : undefined;
  if (field !== undefined) {
    const bodyValue = typeof params?.[field] === 'string' ? params[field] : undefined;
    const named = headers.mcpNameHeader;
    if (named === undefined) {
      if (bodyValue !== undefined) throw mismatch(id, 'Mcp-Name', 'missing', `params.${field}`);
    } else {
      const decoded = decodeMirroredValue(named);
      if (decoded === undefined) throw mismatch(id, 'Mcp-Name', 'invalid');
      if (bodyValue !== undefined && decoded !== bodyValue)
        throw mismatch(id, 'Mcp-Name', 'mismatch', `params.${field}`);
    }
  }
  const schema = view.method === 'tools/call' && view.name ? inputSchemaOf(view.name, view.meta) : undefined;
  if (!schema) return;
  const problem = paramHeaderProblem(paramHeadersOf(schema), params?.arguments, (name) =>
    headerOf(req, name),
  );
  if (problem) throw paramMismatch(id, problem);
}

/** A 400 of the protocol layer, answered with the JSON-RPC id of the request it refuses. */
export class ProtocolRequestError extends DomainError {
  constructor(
    code: 'HEADER_MISMATCH' | 'INVALID_ENVELOPE' | 'UNSUPPORTED_PROTOCOL_VERSION',
    message: string,
    readonly jsonRpcId: string | number | null,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}

const PROBLEMS = {
  missing: 'the required header is absent',
  invalid: 'the header value is too long, has characters a header may not carry, or is not valid Base64',
  mismatch: 'the header does not match the body',
};

/** Names the header and the body field, never echoes their values (client input, possibly long or odd). */
function mismatch(
  id: string | number | null,
  header: string,
  problem: keyof typeof PROBLEMS,
  field?: string,
): ProtocolRequestError {
  const against = field ? ` (${field})` : '';
  return new ProtocolRequestError(
    'HEADER_MISMATCH',
    `Header mismatch: ${header}${against}: ${PROBLEMS[problem]}`,
    id,
    { header, problem, ...(field && { field }) },
  );
}

function paramMismatch(id: string | number | null, { header, problem }: ParamHeaderProblem) {
  return mismatch(id, header, problem);
}

function unsupported(
  id: string | number | null,
  requested: string | undefined,
  supported: readonly string[],
) {
  const sdk = new UnsupportedProtocolVersionError({
    supported: [...supported],
    requested: requested ?? 'unknown',
  });
  return new ProtocolRequestError('UNSUPPORTED_PROTOCOL_VERSION', sdk.message, id, {
    supported: [...supported],
    requested: requested ?? 'unknown',
  });
}

function resourceSubscriptionsOf(params: Record<string, unknown> | undefined): string[] {
  const notifications = params?.notifications;
  const uris = isObject(notifications) ? notifications.resourceSubscriptions : undefined;
  return Array.isArray(uris) ? uris.filter((uri): uri is string => typeof uri === 'string') : [];
}

function paramsOf(message: unknown): Record<string, unknown> | undefined {
  return isObject(message) && isObject(message.params) ? message.params : undefined;
}

/** A header as one string: repeated ones joined with ", " (as Node and the WHATWG `Headers.get` do). */
function headerOf(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
