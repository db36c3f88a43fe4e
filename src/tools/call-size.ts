import { createHash } from 'node:crypto';
import type { ToolCall, ToolResult } from './tool.types.js';

/** Size and digest of a call's arguments as received (their JSON serialization). */
export interface ArgumentsDigest {
  bytes: number;
  sha256: string;
}

const digests = new WeakMap<ToolCall, ArgumentsDigest>();
const resultSizes = new WeakMap<ToolResult, number>();

/** Measured once per call and shared by the audit step and the metrics (serializing twice would be waste). */
export function argumentsDigest(call: ToolCall): ArgumentsDigest {
  let digest = digests.get(call);
  if (!digest) {
    const json = JSON.stringify(call.arguments ?? {});
    digest = { bytes: Buffer.byteLength(json), sha256: createHash('sha256').update(json).digest('hex') };
    digests.set(call, digest);
  }
  return digest;
}

/** Bytes of the result as JSON (what goes on the wire, give or take the JSON-RPC envelope). */
export function resultBytes(result: ToolResult): number {
  let size = resultSizes.get(result);
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(result));
    resultSizes.set(result, size);
  }
  return size;
}
