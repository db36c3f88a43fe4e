import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';
import type { PromptOptions } from './resource-prompt.types.js';

export const PROMPT_METADATA = Symbol('mcp:prompt');

/**
 * Marks a provider method as an MCP prompt. The PromptRegistry discovers it at boot; the method receives
 * `(args, ctx)` with `args` validated against `options.args`. Getting it needs the scope `prompt:<name>` and a
 * grant for `prompt:<name>`.
 */
export const Prompt = <A extends z.ZodObject>(options: PromptOptions<A>): MethodDecorator =>
  SetMetadata(PROMPT_METADATA, options);
