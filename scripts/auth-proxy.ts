/**
 * A loopback HTTP proxy that adds `Authorization: Bearer $AUTH_PROXY_TOKEN` to every request and forwards it to
 * `$AUTH_PROXY_TARGET`, for clients that cannot send a bearer token (the official MCP conformance suite).
 * Everything else passes unchanged in both directions, streamed: method, path, every header including `Host` and
 * `Origin` (so the service's DNS-rebinding check sees what the client sent), bodies and SSE responses.
 * Usage: AUTH_PROXY_TOKEN=… AUTH_PROXY_TARGET=http://127.0.0.1:3199 node dist/scripts/auth-proxy.js [port]
 * Prints `listening <port>` once it accepts connections.
 */
import { createServer, request } from 'node:http';

const token = process.env.AUTH_PROXY_TOKEN;
const target = process.env.AUTH_PROXY_TARGET;
if (!token || !target) {
  console.error('AUTH_PROXY_TOKEN and AUTH_PROXY_TARGET are required');
  process.exit(2);
}
const upstream = new URL(target);
const port = Number(process.argv[2] ?? 0);

const server = createServer((req, res) => {
  const forward = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, authorization: `Bearer ${token}` },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
    },
  );
  forward.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`auth-proxy: ${error.message}`);
  });
  // A client that goes away (e.g. closes an SSE stream) closes the upstream request too.
  res.on('close', () => forward.destroy());
  req.pipe(forward);
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : port}`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => server.close(() => process.exit(0)));
