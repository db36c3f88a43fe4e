/**
 * The state handle a tool handler gets as `ctx.state`: one agent's keys, nothing else. It has no agent
 * parameter, so a tool cannot name another agent's keys (isolation by construction).
 *
 * Versions: a key is created at version 1 and every successful write adds one. `expectedVersion` turns a write
 * into a compare-and-set: `undefined` = unconditional, `0` (or `null`) = "the key must not exist",
 * `n >= 1` = "the key must be at version n". A lost compare-and-set throws `STATE_VERSION_CONFLICT` whose
 * `details.currentVersion` is the version now stored (0 = absent), ready to be read and retried.
 * After a delete, a re-created key starts again at version 1.
 *
 * Writes end with the call (issue #15 §5): one still waiting for its statement when the call's `ctx.signal` fires
 * is withdrawn and throws the signal's reason (it did not happen); one already sent throws `OUTCOME_UNKNOWN` (it
 * may have happened), as does a write whose answer never comes. `TOOL_UNAVAILABLE`: the database did not answer
 * in time, nothing was written.
 */
export interface AgentState {
  /** The entry, or `undefined` when the key does not exist. */
  get(key: string): Promise<StateEntry | undefined>;
  /** Stores any JSON value (`null` included). */
  set(key: string, value: unknown, options?: StateWriteOptions): Promise<StateWriteResult>;
  /**
   * Adds the integer `by` (may be negative) to the integer stored at `key` (absent = 0: created at version 1),
   * atomically and without a read: no compare-and-set, nothing to retry. Each increment adds exactly one to the
   * version and is audited like a `set` (`detail.version` = the version it wrote); concurrent increments of one key
   * share one statement. The stored value must be a JSON integer and stay within ±Number.MAX_SAFE_INTEGER:
   * otherwise nothing changes and it throws `STATE_VALUE_INVALID` (`details.reason`: `not_integer` or
   * `out_of_range`). Creating the key counts against STATE_MAX_KEYS_PER_AGENT (`STATE_KEY_LIMIT`).
   */
  increment(key: string, by: number): Promise<StateIncrementResult>;
  /** Removes the key. Without `expectedVersion`, deleting an absent key is not an error (`deleted: false`). */
  delete(key: string, options?: StateWriteOptions): Promise<StateDeleteResult>;
  /** Keys in byte-wise (UTF-8) order, optionally under a prefix, a page at a time. Values are not included. */
  list(options?: StateListOptions): Promise<StatePage>;
}

export interface StateWriteOptions {
  expectedVersion?: number | null;
  /**
   * With `expectedVersion` n >= 1 only: the stored value must also equal this one (JSON equality). Versions start
   * again at 1 after a delete, so a version remembered from earlier may be reached again by a re-created key; the
   * value tells the two apart.
   */
  expectedValue?: unknown;
}

export interface StateEntry {
  key: string;
  value: unknown;
  version: number;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601 */
  updatedAt: string;
}

export interface StateWriteResult {
  key: string;
  /** The version now stored. */
  version: number;
  /** True when this write created the key. */
  created: boolean;
}

export interface StateIncrementResult extends StateWriteResult {
  /** The value this increment wrote (later ones may have added to it since). */
  value: number;
}

export interface StateDeleteResult {
  key: string;
  deleted: boolean;
  /** The version that was deleted. */
  version?: number;
}

export interface StateListOptions {
  /** Only keys starting with this string (matched literally: `%` and `_` are not wildcards). */
  prefix?: string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** Page size, 1–100 (default 50). */
  limit?: number;
}

export interface StateListItem {
  key: string;
  version: number;
  /** ISO 8601 */
  updatedAt: string;
}

export interface StatePage {
  items: StateListItem[];
  /** Present when there may be more keys: pass it as `cursor` to get the next page. */
  nextCursor?: string;
}
