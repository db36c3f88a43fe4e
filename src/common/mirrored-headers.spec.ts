import { decodeMirroredValue, paramHeadersOf } from './mirrored-headers.js';

describe('decodeMirroredValue', () => {
  it('decodes the Base64 sentinel and takes anything else literally (OWS stripped)', () => {
    expect(decodeMirroredValue('=?base64?SGVsbG8sIOS4lueVjA==?=')).toBe('Hello, 世界');
    expect(decodeMirroredValue('=?base64?IHBhZGRlZCA=?=')).toBe(' padded ');
    expect(decodeMirroredValue(' us-west1\t')).toBe('us-west1');
    expect(decodeMirroredValue('SGVsbG8=')).toBe('SGVsbG8='); // no sentinel: literal
    expect(decodeMirroredValue('=?base64?SGVsbG8=')).toBe('=?base64?SGVsbG8='); // no suffix: literal
  });

  it.each([
    ['bad padding', '=?base64?SGVsbG8?='],
    ['non-alphabet characters', '=?base64?SGVs!!!bG8=?='],
    ['not UTF-8', `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`],
    ['a raw non-ASCII character', 'café'],
    ['a control character', 'a\u0001b'],
    ['over 8192 characters', 'x'.repeat(8193)],
  ])('refuses %s', (_name, value) => {
    expect(decodeMirroredValue(value)).toBeUndefined();
  });
});

describe('paramHeadersOf', () => {
  it('finds annotations along a chain of properties, nested ones included', () => {
    const schema = {
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        where: { type: 'object', properties: { zone: { type: 'integer', 'x-mcp-header': 'Zone' } } },
      },
    };
    expect(paramHeadersOf(schema)).toEqual([
      { path: ['region'], header: 'Region', type: 'string' },
      { path: ['where', 'zone'], header: 'Zone', type: 'integer' },
    ]);
  });

  it.each([
    ['under items', { properties: { a: { type: 'array', items: { type: 'string', 'x-mcp-header': 'A' } } } }],
    ['under anyOf', { anyOf: [{ properties: { a: { type: 'string', 'x-mcp-header': 'A' } } }] }],
    ['on the root', { type: 'object', 'x-mcp-header': 'Root' }],
    ['not a token', { properties: { a: { type: 'string', 'x-mcp-header': 'A B' } } }],
    ['on an object', { properties: { a: { type: 'object', 'x-mcp-header': 'A' } } }],
    [
      'twice, ignoring case',
      {
        properties: {
          a: { type: 'string', 'x-mcp-header': 'Tag' },
          b: { type: 'string', 'x-mcp-header': 'tag' },
        },
      },
    ],
  ])('declares none when an annotation is %s (the tool is invalid; the SDK checks none)', (_name, schema) => {
    const valid = { region: { type: 'string', 'x-mcp-header': 'Region' } };
    const withValid = {
      ...schema,
      properties: { ...(schema as { properties?: object }).properties, ...valid },
    };
    expect(paramHeadersOf(withValid)).toEqual([]);
  });
});
