import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';

const CounterInput = z.strictObject({
  name: z.string().min(1).max(100).default('default').describe('Counter name (per agent)'),
  by: z.int().default(1).describe('Amount to add (may be negative)'),
});
const CounterOutput = z.object({
  name: z.string(),
  value: z.int().describe('The value after this increment'),
  version: z.int().describe('State version of the counter after this increment'),
});
type CounterInput = z.infer<typeof CounterInput>;
type CounterOutput = z.infer<typeof CounterOutput>;

/** Counters live in the agent's state under this prefix, so `state.get` / `state.list` show them too. */
export const counterKey = (name: string) => `counter/${name}`;

/**
 * An increment is `ctx.state.increment`: one atomic add in the database (no read, no compare-and-set to lose), so
 * concurrent increments of one counter, from any replica, each count exactly once and share statements.
 */
@Injectable()
export class CounterTools {
  @Tool({
    name: 'counter.increment',
    description:
      'Adds `by` (default 1) to the calling agent\'s counter `name` (default "default"), atomically, and returns ' +
      'the new value. Counters start at 0 and are private to each agent.',
    input: CounterInput,
    output: CounterOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  })
  async increment({ name, by }: CounterInput, ctx: ToolContext): Promise<CounterOutput> {
    const key = counterKey(name);
    try {
      const { value, version } = await ctx.state.increment(key, by);
      return { name, value, version };
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'STATE_VALUE_INVALID') throw error;
      throw error.details?.reason === 'not_integer'
        ? new DomainError('COUNTER_INVALID', `State key "${key}" does not hold an integer`, { key })
        : new DomainError('COUNTER_INVALID', `Counter "${name}" would leave the safe integer range`, { key });
    }
  }
}
