import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { TransientError } from '../../tools/tool-errors.js';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';

const Keyed = z.object({ key: z.string().min(1).max(100) });
const Flaky = z.object({ fail: z.boolean() });
const Transient = z.object({ key: z.string().min(1).max(100), failTimes: z.number().int().min(0).max(20) });
const Slow = z.object({ key: z.string().min(1).max(100), ms: z.number().int().min(0).max(60_000) });

/**
 * Test fixtures whose behaviour the caller controls. They remember, per key, how often they ran and whether
 * their abort signal fired, so tests can check what the pipeline really did (e.g. "called exactly once").
 */
@Injectable()
export class TestingTools {
  private readonly runs = new Map<string, number>();
  private readonly aborted = new Map<string, unknown>();

  /** How many times a handler ran for `key`. */
  runsOf(key: string): number {
    return this.runs.get(key) ?? 0;
  }

  /** Whether the handler's `ctx.signal` fired for `key`. */
  sawAbort(key: string): boolean {
    return this.aborted.has(key);
  }

  /** Why the handler's `ctx.signal` fired for `key` (`signal.reason`). */
  abortReason(key: string): unknown {
    return this.aborted.get(key);
  }

  private count(key: string): number {
    const n = this.runsOf(key) + 1;
    this.runs.set(key, n);
    return n;
  }

  @Tool({
    name: 'testing.flaky',
    description: 'Fails when asked to (an unexpected error). Breaker opens after 3 consecutive failures.',
    input: Flaky,
    breaker: { failures: 3, halfOpenAfterMs: 400 },
    annotations: { idempotentHint: false },
  })
  flaky({ fail }: z.infer<typeof Flaky>) {
    if (fail) throw new Error('testing.flaky failed as asked');
    return { ok: true };
  }

  @Tool({
    name: 'testing.transient',
    description:
      'Idempotent; throws a TransientError on its first `failTimes` runs for a key, then succeeds.',
    input: Transient,
    output: z.object({ runs: z.number() }),
    annotations: { idempotentHint: true },
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
  })
  transient({ key, failTimes }: z.infer<typeof Transient>) {
    const run = this.count(key);
    if (run <= failTimes) throw new TransientError(`transient failure ${run} of ${failTimes}`);
    return { runs: run };
  }

  @Tool({
    name: 'testing.unsafe',
    description: 'Not idempotent; always throws a TransientError. Must never be retried.',
    input: Keyed,
    annotations: { idempotentHint: false },
  })
  unsafe({ key }: z.infer<typeof Keyed>) {
    this.count(key);
    throw new TransientError('testing.unsafe is down');
  }

  @Tool({
    name: 'testing.slow',
    description: 'Waits `ms` milliseconds (or until its signal fires). Time budget 1 s.',
    input: Slow,
    timeoutMs: 1000,
  })
  async slow({ key, ms }: z.infer<typeof Slow>, ctx: ToolContext) {
    this.count(key);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        this.aborted.set(key, ctx.signal.reason);
        clearTimeout(timer);
        resolve();
      });
    });
    return { waited: ms };
  }

  @Tool({
    name: 'testing.limited',
    description: 'Returns at once; limited to 3 calls per agent per minute.',
    input: z.object({}),
    rateLimit: { perMinute: 3 },
  })
  limited() {
    return { ok: true };
  }
}

const Versioned = z.object({});
const VersionedOut = z.object({ version: z.string() });

/** Three versions of `testing.versioned`: 0.9.0 past its sunset, 1.0.0 deprecated, 2.0.0 current. */
@Injectable()
export class VersionedToolsV1 {
  @Tool({
    name: 'testing.versioned',
    version: '0.9.0',
    description: 'Version 0.9.0 (retired).',
    input: Versioned,
    output: VersionedOut,
    deprecated: { sunset: '2020-01-01T00:00:00Z', replacement: 'testing.versioned@2.0.0' },
  })
  v0() {
    return { version: '0.9.0' };
  }

  @Tool({
    name: 'testing.versioned',
    version: '1.0.0',
    description: 'Version 1.0.0.',
    input: Versioned,
    output: VersionedOut,
    deprecated: { sunset: '2999-01-01T00:00:00Z', replacement: 'testing.versioned@2.0.0' },
  })
  v1() {
    return { version: '1.0.0' };
  }
}

@Injectable()
export class VersionedToolsV2 {
  @Tool({
    name: 'testing.versioned',
    version: '2.0.0',
    description: 'Version 2.0.0.',
    input: Versioned,
    output: VersionedOut,
  })
  v2() {
    return { version: '2.0.0' };
  }
}
