import { checkKey, serializeValue } from './state-limits.js';

const limits = { maxKeyLength: 8, maxValueBytes: 16, maxKeysPerAgent: 10 };

describe('checkKey', () => {
  it.each(['k', 'a/b:c%_', '😀😀😀😀😀😀😀😀', '12345678'])('accepts %j', (key) => {
    expect(() => checkKey(key, limits)).not.toThrow();
  });

  it.each([
    ['', 'must not be empty'],
    ['123456789', 'longer than 8'],
    ['😀'.repeat(9), 'longer than 8'],
    ['a\u0000b', 'control character'],
    ['line\n', 'control character'],
    ['\u007f', 'control character'],
    ['x\ud800', 'unpaired surrogate'],
    [42, 'must be a string'],
  ])('rejects %j (%s) with STATE_KEY_INVALID', (key, reason) => {
    expect(() => checkKey(key, limits)).toThrow(
      expect.objectContaining({
        code: 'STATE_KEY_INVALID',
        details: { reason: expect.stringContaining(reason), maxLength: 8 },
      }) as Error,
    );
  });
});

describe('serializeValue', () => {
  it('returns the JSON text of a value within the limit', () => {
    expect(serializeValue({ a: [1, null] }, limits)).toBe('{"a":[1,null]}');
    expect(serializeValue(null, limits)).toBe('null');
    expect(serializeValue('x'.repeat(14), limits)).toBe(`"${'x'.repeat(14)}"`); // 16 bytes
  });

  it('measures UTF-8 bytes, not characters', () => {
    expect(serializeValue('é'.repeat(7), limits)).toBe(`"${'é'.repeat(7)}"`); // 9 characters, 16 bytes
    expect(() => serializeValue('é'.repeat(8), limits)).toThrow(
      expect.objectContaining({
        code: 'STATE_VALUE_TOO_LARGE',
        details: { bytes: 18, maxBytes: 16 },
      }) as Error,
    );
  });

  it.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a BigInt', 1n],
    ['U+0000', 'a\u0000'],
    ['U+0000 in a key', { 'k\u0000': 1 }],
    ['an unpaired high surrogate', '\ud83d'],
    ['an unpaired low surrogate', '\ude00'],
  ])('rejects %s with STATE_VALUE_INVALID', (_what, value) => {
    expect(() => serializeValue(value, { ...limits, maxValueBytes: 1000 })).toThrow(
      expect.objectContaining({ code: 'STATE_VALUE_INVALID' }) as Error,
    );
  });

  it('accepts text that merely looks like an escape, and paired surrogates', () => {
    const big = { ...limits, maxValueBytes: 1000 };
    expect(serializeValue('\\u0000', big)).toBe('"\\\\u0000"');
    expect(serializeValue('\\\\\ud83d\ude00', big)).toBe('"\\\\\\\\😀"');
  });
});
