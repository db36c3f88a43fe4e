import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';
import type { ToolOptions } from './tool.types.js';

export const TOOL_METADATA = Symbol('mcp:tool');

/**
 * Marks a provider method as an MCP tool. The registry discovers it at boot; the method receives
 * `(input, ctx)` where `input` is already validated against `options.input`.
 */
export const Tool = <I extends z.ZodObject, O extends z.ZodObject>(
  options: ToolOptions<I, O>,
): MethodDecorator => SetMetadata(TOOL_METADATA, options);
