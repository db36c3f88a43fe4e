import { DomainError } from '../common/domain-error.js';

/** A compare-and-set lost: `currentVersion` is what the key holds now (0 = the key does not exist). */
export class StateVersionConflictError extends DomainError {
  constructor(key: string, expectedVersion: number, currentVersion: number) {
    super(
      'STATE_VERSION_CONFLICT',
      currentVersion === 0
        ? `State key "${key}" does not exist (expected version ${expectedVersion})`
        : currentVersion === expectedVersion
          ? `State key "${key}" is at version ${currentVersion} but holds another value than expected`
          : `State key "${key}" is at version ${currentVersion}, not ${expectedVersion}`,
      { key, expectedVersion, currentVersion },
    );
  }
}

export class StateKeyInvalidError extends DomainError {
  constructor(reason: string, maxLength: number) {
    super('STATE_KEY_INVALID', `Invalid state key: ${reason}`, { reason, maxLength });
  }
}

export class StateValueInvalidError extends DomainError {
  constructor(reason: string) {
    super('STATE_VALUE_INVALID', `Invalid state value: ${reason}`, { reason });
  }
}

/**
 * `increment`: the key holds something other than a safe integer, or the sum would leave the safe integer range;
 * nothing was changed.
 */
export class StateNotIntegerError extends DomainError {
  constructor(key: string, reason: 'not_integer' | 'out_of_range') {
    super(
      'STATE_VALUE_INVALID',
      reason === 'not_integer'
        ? `State key "${key}" does not hold an integer`
        : `Incrementing state key "${key}" would leave the safe integer range`,
      { key, reason },
    );
  }
}

/** Creating the key would give the agent more than STATE_MAX_KEYS_PER_AGENT keys. */
export class StateKeyLimitError extends DomainError {
  constructor(key: string, maxKeys: number) {
    super(
      'STATE_KEY_LIMIT',
      `Cannot create state key "${key}": the agent holds the most keys allowed (${maxKeys}); delete some first`,
      { key, maxKeys },
    );
  }
}

export class StateValueTooLargeError extends DomainError {
  constructor(bytes: number, maxBytes: number) {
    super('STATE_VALUE_TOO_LARGE', `State value is ${bytes} bytes; the limit is ${maxBytes}`, {
      bytes,
      maxBytes,
    });
  }
}
