import { createHash } from 'node:crypto';
import type { ToolCall } from './tool.types.js';

/** Size and digest of a call's arguments as received (their JSON serialization). */
export interface ArgumentsDigest {
  bytes: number;
  sha256: string;
}

const digests = new WeakMap<object, ArgumentsDigest>();
const resultSizes = new WeakMap<object, number>();

/**
 * Measured once per call and shared by the audit step and the metrics (serializing twice would be waste). Also
 * for the parameters of a resource read or prompt get (`{ arguments: { uri } }`, `{ arguments: args }`).
 */
export function argumentsDigest(call: Pick<ToolCall, 'arguments'>): ArgumentsDigest {
  let digest = digests.get(call);
  if (!digest) {
    const json = JSON.stringify(call.arguments ?? {});
    digest = { bytes: Buffer.byteLength(json), sha256: createHash('sha256').update(json).digest('hex') };
    digests.set(call, digest);
  }
  return digest;
}

/** Bytes of the result as JSON (what goes on the wire, give or take the JSON-RPC envelope). */
export function resultBytes(result: object): number {
  let size = resultSizes.get(result);
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(result));
    resultSizes.set(result, size);
  }
  return size;
}
