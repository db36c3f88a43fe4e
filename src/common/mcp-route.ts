import type { FastifyRequest } from 'fastify';

/** The MCP endpoint's route, as McpController registers it and as Fastify's router reports it. */
export const MCP_ROUTE = '/mcp';

/**
 * Is this request on the MCP endpoint? The one place that decides, for every guard, hook and filter: by the route
 * the router MATCHED, never by the raw URL. The router percent-decodes the path (`/%6Dcp` is `/mcp`) and matches it
 * exactly (`/mcp/`, `//mcp`, `/MCP`, `/mcp;x` match no route and end as 404), so any string test on `request.url`
 * is fooled one way or the other. An unmatched request (404) has no route, hence `?.`.
 */
export function isMcpRoute(request: Pick<FastifyRequest, 'routeOptions'>): boolean {
  return request.routeOptions?.url === MCP_ROUTE;
}
