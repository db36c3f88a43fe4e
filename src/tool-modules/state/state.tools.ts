import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';

// Strict objects: a misspelt `expectedVersion` must fail, not silently turn a compare-and-set into a blind write.
const Key = z.string().min(1).describe('State key (any characters except control characters)');
const Version = z.int().min(0);

const GetInput = z.strictObject({ key: Key });
const GetOutput = z.object({
  key: z.string(),
  found: z.boolean(),
  value: z.unknown().optional().describe('The stored JSON value (absent when not found)'),
  version: z.int().describe('Current version; 0 when the key does not exist'),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
});

const SetInput = z.strictObject({
  key: Key,
  value: z.json().describe('Any JSON value'),
  expectedVersion: Version.nullable()
    .optional()
    .describe(
      'Compare-and-set: write only if the key is at this version (0 or null: only if it does not exist). ' +
        'Omit for an unconditional write. On mismatch: error STATE_VERSION_CONFLICT with details.currentVersion.',
    ),
});
const SetOutput = z.object({ key: z.string(), version: z.int(), created: z.boolean() });

const DeleteInput = z.strictObject({
  key: Key,
  expectedVersion: Version.min(1)
    .optional()
    .describe('Delete only if the key is at this version; omit to delete whatever is there'),
});
const DeleteOutput = z.object({
  key: z.string(),
  deleted: z.boolean(),
  version: z.int().optional().describe('The version that was deleted'),
});

const ListInput = z.strictObject({
  prefix: z.string().optional().describe('Only keys starting with this (literal) string'),
  cursor: z.string().optional().describe('nextCursor of the previous page'),
  limit: z.int().min(1).max(100).default(50),
});
const ListOutput = z.object({
  items: z.array(z.object({ key: z.string(), version: z.int(), updatedAt: z.string() })),
  nextCursor: z.string().optional(),
});

type Out<T extends z.ZodType> = z.infer<T>;

/** Tool pack `state`: the calling agent's key/value state, through `ctx.state` only. */
@Injectable()
export class StateTools {
  @Tool({
    name: 'state.get',
    description: "Reads one key of the calling agent's state: its JSON value and version (0 = not found).",
    input: GetInput,
    output: GetOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  async get({ key }: z.infer<typeof GetInput>, ctx: ToolContext): Promise<Out<typeof GetOutput>> {
    const entry = await ctx.state.get(key);
    return entry ? { ...entry, found: true } : { key, found: false, version: 0 };
  }

  @Tool({
    name: 'state.set',
    description:
      "Writes a JSON value under a key of the calling agent's state and returns the new version. Pass " +
      'expectedVersion (from state.get) to write only if nobody changed the key since (optimistic locking).',
    input: SetInput,
    output: SetOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  })
  async set(
    { key, value, expectedVersion }: z.infer<typeof SetInput>,
    ctx: ToolContext,
  ): Promise<Out<typeof SetOutput>> {
    return ctx.state.set(key, value, { expectedVersion });
  }

  @Tool({
    name: 'state.delete',
    description:
      "Deletes a key of the calling agent's state (optionally only at an expected version). Deleting a missing " +
      'key without expectedVersion is not an error (deleted: false).',
    input: DeleteInput,
    output: DeleteOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  })
  async delete(
    { key, expectedVersion }: z.infer<typeof DeleteInput>,
    ctx: ToolContext,
  ): Promise<Out<typeof DeleteOutput>> {
    return ctx.state.delete(key, { expectedVersion });
  }

  @Tool({
    name: 'state.list',
    description:
      "Lists the calling agent's keys (with versions, without values) in byte order, optionally under a " +
      'prefix, a page at a time: pass nextCursor back as cursor.',
    input: ListInput,
    output: ListOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  async list(input: z.infer<typeof ListInput>, ctx: ToolContext): Promise<Out<typeof ListOutput>> {
    return ctx.state.list(input);
  }
}
