/**
 * The bare SDK v2 baseline of issue #19: no auth, no grants, no limits, no audit; tools `echo` {text} and
 * `increment` {name, by?} (an in-memory Map counter), schemas checked by ONE shared JSON-schema validator.
 * node:http, JSON bodies for both eras on one endpoint:
 *
 *   modern  2026-07-28 envelope requests: `createMcpHandler(factory, { legacy: 'reject', responseMode: 'json' })`
 *   legacy  2025 stateless POSTs, routed in user land with `isLegacyRequest` (the SDK's own documented pattern):
 *           the entry's built-in stateless lane cannot answer JSON (it builds its transport with only
 *           `sessionIdGenerator: undefined`, i.e. SSE), so this lane builds the same transport with
 *           `enableJsonResponse: true`.
 *
 * Server instances, by argv[3]:
 *   per-request  a new McpServer per request (the SDK's serving idiom)
 *   pooled       idle instances handed out by the factory, one pool per era (a modern exchange pins its instance
 *                to the modern revision); an instance goes back when its exchange closes: both lanes close the
 *                transport at the end of the exchange, and Protocol clears `server.transport` BEFORE calling
 *                `server.onclose`, so an instance is back only once `assertNotServing` would accept it.
 *
 * Usage: node dist/bench/baseline-v2-server.js <port> <per-request|pooled>
 */
import { createServer, type IncomingMessage } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  fromJsonSchema,
  isLegacyRequest,
  McpServer,
  WebStandardStreamableHTTPServerTransport,
  type McpHandlerRequestOptions,
  type McpRequestContext,
} from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';

const port = Number(process.argv[2] ?? 3300);
const mode = process.argv[3] ?? 'per-request';
if (mode !== 'per-request' && mode !== 'pooled') throw new Error(`mode: per-request | pooled, not ${mode}`);

/** One validator for every server; each schema compiled once, here. */
const validator = new AjvJsonSchemaValidator();
const echoInput = fromJsonSchema<{ text: string }>(
  { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  validator,
);
const incrementInput = fromJsonSchema<{ name: string; by?: number }>(
  {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1 }, by: { type: 'integer' } },
    required: ['name'],
  },
  validator,
);
const counters = new Map<string, number>();

function newServer(): McpServer {
  const server = new McpServer({ name: 'bare-v2', version: '1.0.0' }, { jsonSchemaValidator: validator });
  server.registerTool('echo', { description: 'Returns its text.', inputSchema: echoInput }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool(
    'increment',
    { description: 'Adds `by` (1) to a counter.', inputSchema: incrementInput },
    ({ name, by = 1 }) => {
      const value = (counters.get(name) ?? 0) + by;
      counters.set(name, value);
      return { content: [{ type: 'text', text: String(value) }] };
    },
  );
  return server;
}

const pools: Record<McpRequestContext['era'], McpServer[]> = { modern: [], legacy: [] };

function pooled({ era }: McpRequestContext): McpServer {
  const idle = pools[era].pop();
  if (idle) return idle;
  const server = newServer();
  // Back to the pool when the exchange closes (transport already detached, see above).
  server.server.onclose = () => void pools[era].push(server);
  return server;
}

const factory = mode === 'pooled' ? pooled : newServer;
const modern = createMcpHandler(factory, { legacy: 'reject', responseMode: 'json' });

async function legacy(request: Request, parsedBody: unknown): Promise<Response> {
  if (request.method !== 'POST') return new Response(null, { status: 405 });
  const server = factory({ era: 'legacy', requestInfo: request });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request, { parsedBody });
  } finally {
    await transport.close();
  }
}

const serve = toNodeHandler({
  fetch: async (request: Request, options?: McpHandlerRequestOptions) =>
    (await isLegacyRequest(request, options?.parsedBody))
      ? legacy(request, options?.parsedBody)
      : modern.fetch(request, options),
});

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

createServer((req, res) => {
  if (req.url !== '/mcp') return void res.writeHead(404).end();
  // Parsed once here; both lanes and the routing predicate take the parsed body.
  void (req.method === 'POST' ? jsonBody(req) : Promise.resolve(undefined)).then((body) =>
    serve(req, res, body),
  );
}).listen(port, '127.0.0.1', () => console.error(`bare SDK v2 (${mode}) listening on ${port}`));
