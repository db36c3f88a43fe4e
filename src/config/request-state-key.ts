import { randomBytes, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Shortest HMAC key accepted for `requestState` (the SHA-256 block is 64 bytes; 32 random bytes are plenty). */
export const MIN_STATE_KEY_BYTES = 32;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$|^[A-Za-z0-9_-]+$/;

/**
 * A `requestState` key as configured: `base64:<key>` (standard or url alphabet) or the raw text's UTF-8 bytes.
 * Answers the key, or why it is refused (the caller names the variable).
 */
export function parseStateKey(value: string): Buffer | string {
  const encoded = value.startsWith('base64:') ? value.slice('base64:'.length) : undefined;
  if (encoded !== undefined && !BASE64.test(encoded)) return 'the text after "base64:" is not base64';
  const key = encoded === undefined ? Buffer.from(value, 'utf8') : Buffer.from(encoded, 'base64');
  if (key.length < MIN_STATE_KEY_BYTES)
    return `must be at least ${MIN_STATE_KEY_BYTES} bytes (got ${key.length}); e.g. base64:$(openssl rand -base64 32)`;
  return key;
}

const KEY_FILE = 'request-state.key';

/**
 * Development and tests (no MCP_REQUEST_STATE_KEY, never production): one random key, made on first use and kept
 * in `$DATA_DIR/request-state.key` (mode 0600) as `base64:<key>`, so restarts and the processes sharing the
 * directory accept each other's tokens. Written aside, then linked into place, as the dev signing key is
 * (src/auth/dev-keys.ts): concurrent starters never read half a file, and the first key made wins.
 */
export function loadOrCreateDevStateKey(dataDir: string): Buffer {
  const file = join(dataDir, KEY_FILE);
  let stored = readKeyFile(file);
  if (stored === undefined) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${randomUUID()}.tmp`;
    writeFileSync(temp, `base64:${randomBytes(MIN_STATE_KEY_BYTES).toString('base64')}\n`, { mode: 0o600 });
    try {
      linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temp);
    }
    stored = readKeyFile(file);
    if (stored === undefined) throw new Error(`request state: cannot read ${file}`);
  }
  const key = parseStateKey(stored);
  if (typeof key === 'string') throw new Error(`request state: ${file} ${key}; delete it to make a new one`);
  return key;
}

function readKeyFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
