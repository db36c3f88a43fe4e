import { SetMetadata } from '@nestjs/common';
import type { ResourceOptions } from './resource-prompt.types.js';

export const RESOURCE_METADATA = Symbol('mcp:resource');

/**
 * Marks a provider method as an MCP resource (a fixed `uri`) or resource template (`uriTemplate`). The
 * ResourceRegistry discovers it at boot; the method receives `(uri, variables, ctx)`. Reading it needs the scope
 * `resource:<name>` and a grant for `resource:<name>`, like a tool.
 */
export const Resource = (options: ResourceOptions): MethodDecorator =>
  SetMetadata(RESOURCE_METADATA, options);
