import { McpSessionEntity } from './mcp-session.entity.js';

/** The MCP transport's tables (composed with every other module's in src/persistence.ts). */
export const mcpEntities = [McpSessionEntity];
