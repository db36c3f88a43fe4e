import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';
import { KeyedMutex } from './keyed-mutex.js';

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

/** Attempts of the compare-and-set before giving up with STATE_VERSION_CONFLICT. */
export const MAX_ATTEMPTS = 10;
const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 200;
/** Counters whose last written value this replica remembers (the oldest is forgotten first). */
export const REMEMBERED_COUNTERS = 10_000;

/** Counters live in the agent's state under this prefix, so `state.get` / `state.list` show them too. */
export const counterKey = (name: string) => `counter/${name}`;

/**
 * Increments are atomic by compare-and-set on the counter's state version (and value). Within this process,
 * increments of one counter also queue behind each other (a keyed mutex), so a burst on a hot counter does not turn
 * into a storm of lost races; between replicas, or against a concurrent `state.set` of the same key, the
 * compare-and-set decides and the loser retries.
 *
 * The value and version this replica last wrote are remembered, and the next increment of that counter starts
 * from them instead of reading: one round trip less. Nothing is trusted: the compare-and-set checks both version
 * and value in the database (the value because a deleted and re-created key counts its versions from 1 again),
 * and a remembered state that is no longer current only costs a read and a retry.
 */
@Injectable()
export class CounterTools {
  private readonly local = new KeyedMutex();
  private readonly written = new Map<string, { value: number; version: number }>();

  @Tool({
    name: 'counter.increment',
    description:
      'Adds `by` (default 1) to the calling agent\'s counter `name` (default "default"), atomically, and returns ' +
      'the new value. Counters start at 0 and are private to each agent.',
    input: CounterInput,
    output: CounterOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  })
  increment({ name, by }: CounterInput, ctx: ToolContext): Promise<CounterOutput> {
    const key = counterKey(name);
    const slot = `${ctx.principal.agentId}\u0000${key}`;
    return this.local.run(slot, ctx.signal, () => this.add(slot, key, name, by, ctx));
  }

  /** Optimistic: read (or remember), compute, compare-and-set; on a lost race, back off (full jitter) and retry. */
  private async add(
    slot: string,
    key: string,
    name: string,
    by: number,
    ctx: ToolContext,
  ): Promise<CounterOutput> {
    for (let attempt = 1; ; attempt++) {
      ctx.signal.throwIfAborted();
      const remembered = attempt === 1 ? this.written.get(slot) : undefined;
      const current = remembered ?? (await ctx.state.get(key));
      const value = current ? current.value : 0;
      if (!Number.isSafeInteger(value))
        throw new DomainError('COUNTER_INVALID', `State key "${key}" does not hold an integer`, { key });
      const next = (value as number) + by;
      if (!Number.isSafeInteger(next))
        throw new DomainError('COUNTER_INVALID', `Counter "${name}" would leave the safe integer range`, {
          key,
        });
      try {
        const { version } = await ctx.state.set(
          key,
          next,
          current ? { expectedVersion: current.version, expectedValue: value } : { expectedVersion: 0 },
        );
        this.remember(slot, { value: next, version });
        return { name, value: next, version };
      } catch (error) {
        this.written.delete(slot);
        if (!isVersionConflict(error) || attempt >= MAX_ATTEMPTS || ctx.signal.aborted) throw error;
        if (remembered) continue; // what we remembered is stale: read and retry at once
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
        await sleep(Math.random() * ceiling);
      }
    }
  }

  private remember(slot: string, state: { value: number; version: number }): void {
    this.written.delete(slot); // re-inserted last: the Map's order is the order of use
    this.written.set(slot, state);
    if (this.written.size > REMEMBERED_COUNTERS) this.written.delete(this.written.keys().next().value!);
  }
}

function isVersionConflict(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'STATE_VERSION_CONFLICT';
}
