/**
 * The bare SDK v2 baseline: `createMcpHandler` (a new server per request, the SDK's serving entry) mounted with
 * `toNodeHandler` on plain node:http, with the same `echo` tool as the service. Both eras on one endpoint:
 * 2026-07-28 envelope requests on the modern path, other POSTs on the handler's default stateless legacy lane.
 * No auth, no grants, no rate limits, no audit, no state. Usage: node dist/bench/baseline-v2-server.js <port>
 */
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const factory = () => {
  const server = new McpServer({ name: 'bare-v2', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns the text it is given.',
      inputSchema: z.object({ text: z.string() }),
      outputSchema: z.object({ text: z.string() }),
    },
    ({ text }) => ({ content: [{ type: 'text', text }], structuredContent: { text } }),
  );
  return server;
};

const serve = toNodeHandler(createMcpHandler(factory));
const port = Number(process.argv[2] ?? 3300);
createServer((req, res) => {
  if (req.url === '/mcp') return void serve(req, res);
  res.writeHead(404).end();
}).listen(port, '127.0.0.1', () => console.log(`bare SDK v2 listening on ${port}`));
