/**
 * The two kinds of `tools/call` traffic the benchmark sends, as clients of each era send them:
 *
 *   modern  2026-07-28: the `_meta` envelope in the body and the headers the transport requires with it
 *           (MCP-Protocol-Version, Mcp-Method, Mcp-Name); no session, no initialize.
 *   legacy  2025-11-25 stateless: a plain JSON-RPC request with the version header, no session (today's
 *           stateless clients and curl).
 */
export type Traffic = 'modern' | 'legacy';

const MODERN_VERSION = '2026-07-28';
const LEGACY_VERSION = '2025-11-25';

export function callBody(traffic: Traffic, tool: string, args: Record<string, unknown>): string {
  const params: Record<string, unknown> = { name: tool, arguments: args };
  if (traffic === 'modern') {
    params._meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
      'io.modelcontextprotocol/clientCapabilities': {},
    };
  }
  return JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params });
}

export function callHeaders(traffic: Traffic, tool: string): Record<string, string> {
  const common = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  return traffic === 'modern'
    ? { ...common, 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': tool }
    : { ...common, 'mcp-protocol-version': LEGACY_VERSION };
}

/** A real success: a JSON-RPC result that is not a tool error (JSON or SSE framing). */
export function isSuccess(body: string): boolean {
  const json = body.startsWith('event:') ? body.slice(body.indexOf('data: ') + 6) : body;
  try {
    const message = JSON.parse(json) as { result?: { isError?: boolean } };
    return message.result !== undefined && message.result.isError !== true;
  } catch {
    return false;
  }
}
