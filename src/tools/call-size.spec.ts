import { createHash } from 'node:crypto';
import { argumentsDigest, argumentsTooDeep, MAX_ARGUMENT_DEPTH, resultBytes } from './call-size.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const digestOf = (args: unknown) => argumentsDigest({ arguments: args as Record<string, unknown> });

/** `{"a":{"a":…1…}}`, `levels` objects deep. */
function nested(levels: number): { json: string; value: unknown } {
  const json = `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  return { json, value: JSON.parse(json) };
}

describe('argumentsDigest', () => {
  it.each([
    [{}],
    [{ text: 'hello', n: 1.5, list: [1, 'two', null, true, { x: [] }], nested: { b: 1, a: 2 } }],
    [{ lone: 'a\ud800b', nul: '\u0000', pair: '🚀', escapes: '"\\\n\t\u001f' }],
    [{ 'k\udc00': { '': [[], [[]], {}] }, big: 1e300, small: -0, neg: -12 }],
  ])('is the size and SHA-256 of the JSON text, exactly as JSON.stringify writes it: %j', (args) => {
    const json = JSON.stringify(args);
    expect(digestOf(args)).toEqual({ bytes: Buffer.byteLength(json), sha256: sha256(json) });
  });

  it('never throws for arguments nested far deeper than JSON.stringify can go, and digests the same text', () => {
    const { json, value } = nested(100_000);
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    expect(digestOf(value)).toEqual({ bytes: Buffer.byteLength(json), sha256: sha256(json) });
  });

  it('never throws for a value too large to be one string, and still digests its JSON text', () => {
    const chunk = 'x'.repeat(1 << 20);
    // ~545 M characters of JSON: more than V8's longest string (2^29 - 24), so JSON.stringify throws on it.
    const huge = { list: Array.from({ length: 520 }, () => chunk) };
    const hash = createHash('sha256').update('{"list":[');
    for (let i = 0; i < 520; i++) hash.update(`${i ? ',' : ''}"${chunk}"`);
    const expected = hash.update(']}').digest('hex');
    expect(digestOf(huge)).toEqual({ bytes: 520 * ((1 << 20) + 3) + 10, sha256: expected });
  });

  it('never throws for values JSON cannot represent (cycles, BigInt, a throwing toJSON)', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const bad = {
      toJSON: () => {
        throw new Error('no');
      },
    };
    for (const args of [cyclic, { n: 10n }, { bad }, { f: () => 1, u: undefined, s: Symbol('s') }]) {
      expect(digestOf(args)).toEqual({
        bytes: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    }
    // Skipped like JSON.stringify skips them.
    expect(digestOf({ f: () => 1, u: undefined, keep: 1 })).toEqual(digestOf({ keep: 1 }));
  });
});

describe('resultBytes', () => {
  it('is the byte length of the JSON text, and never throws', () => {
    const result = { content: [{ type: 'text', text: 'é' }] };
    expect(resultBytes(result)).toBe(Buffer.byteLength(JSON.stringify(result)));
    expect(resultBytes({ content: [nested(50_000).value] })).toBe(
      Buffer.byteLength(nested(50_000).json) + 14,
    );
  });
});

describe('argumentsTooDeep', () => {
  it(`allows ${MAX_ARGUMENT_DEPTH} levels of objects and arrays, and no more`, () => {
    expect(MAX_ARGUMENT_DEPTH).toBe(64);
    expect(argumentsTooDeep(nested(64).value)).toBe(false);
    expect(argumentsTooDeep(nested(65).value)).toBe(true);
    expect(argumentsTooDeep(JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`))).toBe(false);
    expect(argumentsTooDeep({ a: JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`) })).toBe(true);
    expect(argumentsTooDeep(nested(200_000).value)).toBe(true);
    expect(argumentsTooDeep(undefined)).toBe(false);
    expect(argumentsTooDeep({ wide: Array.from({ length: 100_000 }, (_, i) => ({ i })) })).toBe(false);
  });
});
