import { createHash, type Hash } from 'node:crypto';
import type { ToolCall } from './tool.types.js';

/** Size and digest of a call's arguments as received (their JSON serialization). */
export interface ArgumentsDigest {
  bytes: number;
  sha256: string;
}

/**
 * Deepest nesting of objects and arrays accepted in a call's arguments (the arguments object itself is level 1).
 * Deeper arguments are refused before any policy step or tool sees them (ARGUMENTS_TOO_DEEP, JSON-RPC -32602):
 * no legitimate tool input nests that deep, and recursive code (schemas, JSON.stringify) would overflow on it.
 */
export const MAX_ARGUMENT_DEPTH = 64;

const digests = new WeakMap<object, ArgumentsDigest>();
const resultSizes = new WeakMap<object, number>();

/**
 * Measured once per call and shared by the audit step and the metrics (serializing twice would be waste). Also
 * for the parameters of a resource read or prompt get (`{ arguments: { uri } }`, `{ arguments: args }`).
 * Never throws, whatever the arguments (see `measureJson`).
 */
export function argumentsDigest(call: Pick<ToolCall, 'arguments'>): ArgumentsDigest {
  let digest = digests.get(call);
  if (!digest) {
    const hash = createHash('sha256');
    digest = { bytes: measureJson(call.arguments ?? {}, hash), sha256: hash.digest('hex') };
    digests.set(call, digest);
  }
  return digest;
}

/** Bytes of the result as JSON (what goes on the wire, give or take the JSON-RPC envelope). Never throws. */
export function resultBytes(result: object): number {
  let size = resultSizes.get(result);
  if (size === undefined) {
    size = measureJson(result);
    resultSizes.set(result, size);
  }
  return size;
}

/** Are objects and arrays nested more than `max` levels deep in `value`? Iterative: any depth is fine. */
export function argumentsTooDeep(value: unknown, max = MAX_ARGUMENT_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth > max) return true;
    for (const child of attempt((): unknown[] => Object.values(item), [])) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * UTF-8 bytes of `value`'s JSON text, fed to `hash` too: byte for byte what `JSON.stringify` writes, computed by
 * it when it can. When it cannot (nested deeper than its recursion allows, longer than a string may be, a cycle,
 * a BigInt, a throwing getter or toJSON) an iterative writer streams the same text in chunks instead (a cycle
 * and any unreadable value are written `null`, a BigInt as a string), so this never throws.
 */
export function measureJson(value: unknown, hash?: Hash): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch {
    const sink = new JsonSink(hash);
    writeJson(value, sink);
    return sink.end();
  }
  hash?.update(json);
  return Buffer.byteLength(json);
}

/** Streams JSON text into a byte count and a hash, a chunk at a time (always at a token boundary). */
class JsonSink {
  private buffer = '';
  private bytes = 0;

  constructor(private readonly hash?: Hash) {}

  write(text: string): void {
    this.buffer += text;
    if (this.buffer.length >= 65_536) this.flush();
  }

  end(): number {
    this.flush();
    return this.bytes;
  }

  private flush(): void {
    this.bytes += Buffer.byteLength(this.buffer);
    this.hash?.update(this.buffer);
    this.buffer = '';
  }
}

/** A value JSON.stringify leaves out (undefined, a function, a symbol): skipped in objects, `null` in arrays. */
const SKIP = Symbol('skip');

/** An object or array being written: its members are written one per turn of the loop in `writeJson`. */
interface Frame {
  container: object;
  /** Keys of an object; undefined for an array. */
  keys?: string[];
  next: number;
  wrote: boolean;
}

function writeJson(root: unknown, sink: JsonSink): void {
  const frames: Frame[] = [];
  const open = new Set<object>(); // containers being written: meeting one again is a cycle
  const emit = (value: unknown) => {
    if (value === null || typeof value !== 'object') return sink.write(scalar(value));
    if (open.has(value)) return sink.write('null');
    open.add(value);
    const keys = Array.isArray(value) ? undefined : attempt(() => Object.keys(value), []);
    sink.write(keys ? '{' : '[');
    frames.push({ container: value, keys, next: 0, wrote: false });
  };
  const top = prepared(root, '');
  emit(top === SKIP ? null : top);
  for (let frame = frames.at(-1); frame; frame = frames.at(-1)) {
    const { container, keys } = frame;
    const length = keys ? keys.length : attempt(() => (container as unknown[]).length, 0);
    if (frame.next >= length) {
      sink.write(keys ? '}' : ']');
      open.delete(container);
      frames.pop();
      continue;
    }
    const key = keys ? keys[frame.next] : String(frame.next);
    frame.next++;
    const value = prepared(
      attempt(() => (container as Record<string, unknown>)[key], null),
      key,
    );
    if (value === SKIP && keys) continue;
    sink.write(`${frame.wrote ? ',' : ''}${keys ? `${JSON.stringify(key)}:` : ''}`);
    frame.wrote = true;
    emit(value === SKIP ? null : value);
  }
}

/** The value as JSON.stringify writes it: after `toJSON(key)`, boxed primitives unboxed, or SKIP. */
function prepared(value: unknown, key: string): unknown {
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
    const toJSON = attempt(() => (value as { toJSON?: unknown }).toJSON, undefined);
    if (typeof toJSON === 'function') value = attempt(() => toJSON.call(value, key) as unknown, null);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return SKIP;
  return value;
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  return 'null';
}

function attempt<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
