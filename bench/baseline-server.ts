/**
 * The prototype baseline: a bare MCP SDK server written the way the SDK's own stateless Streamable HTTP example
 * does it (Express, a new server and transport per request), with the same `echo` tool. No auth, no grants, no
 * audit, no state. Usage: node dist/bench/baseline-server.js <port>
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Request, Response } from 'express';
import { z } from 'zod';

const getServer = () => {
  const server = new McpServer({ name: 'prototype', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns the text it is given.',
      inputSchema: { text: z.string() },
      outputSchema: { text: z.string() },
    },
    ({ text }) => ({ content: [{ type: 'text', text }], structuredContent: { text } }),
  );
  return server;
};

const app = createMcpExpressApp();
app.post('/mcp', async (req: Request, res: Response) => {
  const server = getServer();
  try {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
  } catch {
    if (!res.headersSent) {
      res
        .status(500)
        .json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
    }
  }
});

const port = Number(process.argv[2] ?? 3300);
app.listen(port, '127.0.0.1', () => console.log(`prototype listening on ${port}`));
