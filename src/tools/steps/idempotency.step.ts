import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { IdempotencyService } from '../../state/idempotency.service.js';
import { isInputRequiredAnswer } from '../input.js';
import { InvalidArgumentsError } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/** `params._meta` key of a `tools/call` that makes the call idempotent. */
export const IDEMPOTENCY_KEY_META = 'mcp-production/idempotency-key';
/** `_meta` flag on a result replayed from an earlier call with the same idempotency key. */
export const IDEMPOTENT_REPLAY_META = 'mcp-production/idempotent-replay';

/** Visible ASCII, like HTTP's `Idempotency-Key` values (UUIDs, ULIDs, `order-42:retry` ...). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * A call carrying an idempotency key runs at most once per (agent, tool, key) within IDEMPOTENCY_TTL_SECONDS:
 * a repeat gets the stored result (flagged in `_meta`), a repeat with other arguments or for another version of
 * the tool `IDEMPOTENCY_KEY_REUSED`,
 * a repeat while the first still runs waits for it (then `IDEMPOTENCY_IN_PROGRESS`). Only successful results
 * are stored: after a failure the key is released, so the client's retry runs the call again.
 * Runs after validation, so "the same arguments" means the same validated input (defaults applied).
 */
@Injectable()
export class IdempotencyStep implements ToolStep {
  constructor(
    private readonly store: IdempotencyService,
    private readonly config: AppConfig,
  ) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const key = invocation.call.meta?.[IDEMPOTENCY_KEY_META];
    if (key === undefined) return next();
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new InvalidArgumentsError([
        {
          path: `_meta.${IDEMPOTENCY_KEY_META}`,
          message: 'must be a string of 1 to 255 visible ASCII characters',
        },
      ]);
    }
    const { ctx, tool } = invocation;
    const claim = await this.store.begin(
      { agentId: ctx.principal.agentId, toolName: tool!.name, toolVersion: tool!.version, key },
      requestHash(invocation.input),
      ctx.signal,
      // Waiting for a duplicate runs before the timeout step: bound it by the call's budget too (issue #15 §4).
      tool!.timeoutMs ?? this.config.resilience.toolTimeoutMs,
    );
    if (claim.kind === 'completed') {
      return { ...claim.result, _meta: { ...claim.result._meta, [IDEMPOTENT_REPLAY_META]: true } };
    }

    let result: ToolResult;
    try {
      result = await next();
    } catch (error) {
      await this.release(invocation, claim.claimId);
      throw error;
    }
    // Only final answers are stored: a failure, or a round that asks the client for input, releases the key.
    if (result.isError || isInputRequiredAnswer(result)) {
      await this.release(invocation, claim.claimId);
      return result;
    }
    try {
      if (!(await this.store.complete(claim.claimId, result)))
        ctx.logger.warn({ idempotencyKey: key }, 'idempotency claim was taken over before the call finished');
    } catch (err) {
      // The call did run: report its result; a retry with this key will find the claim until its lease ends.
      ctx.logger.error({ err, idempotencyKey: key }, 'storing the idempotent result failed');
    }
    return result;
  }

  private async release({ ctx }: ToolInvocation, claimId: string): Promise<void> {
    try {
      await this.store.release(claimId);
    } catch (err) {
      ctx.logger.error({ err }, 'releasing an idempotency claim failed');
    }
  }
}

/** SHA-256 of the canonical JSON (object keys sorted) of the validated input. */
export function requestHash(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
