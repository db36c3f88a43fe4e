import { z } from 'zod';
import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ToolRegistrationError, ToolRegistry } from './tool-registry.service.js';

const registry = () => new ToolRegistry({} as DiscoveryService, {} as MetadataScanner, {} as Reflector);
const noop = () => ({});

describe('ToolRegistry', () => {
  it('converts the input schema to JSON Schema once, without a $schema URI', () => {
    const tools = registry();
    tools.register(
      { name: 'demo.run', description: 'd', input: z.object({ n: z.number().int() }) },
      noop,
      'T.run',
    );
    const tool = tools.get('demo.run')!;
    expect(tool.inputJsonSchema).toEqual({
      type: 'object',
      properties: { n: { type: 'integer', minimum: expect.any(Number), maximum: expect.any(Number) } },
      required: ['n'],
    });
    expect(tool.version).toBe('1.0.0');
    expect(tools.get('demo.run')!.inputJsonSchema).toBe(tool.inputJsonSchema);
  });

  it('refuses a duplicate name and version and names both owners', () => {
    const tools = registry();
    tools.register({ name: 'demo.run', description: 'd', input: z.object({}) }, noop, 'A.run');
    expect(() =>
      tools.register({ name: 'demo.run', description: 'd', input: z.object({}) }, noop, 'B.run'),
    ).toThrow(/duplicate name and version 1.0.0, already declared by A.run/);
  });

  it('keeps several versions of one name; the plain name resolves to the highest', () => {
    const tools = registry();
    for (const version of ['1.10.0', '2.0.0-beta.1', '1.9.3']) {
      tools.register(
        { name: 'demo.run', version, description: 'd', input: z.object({}) },
        noop,
        `V${version}`,
      );
    }
    expect(tools.get('demo.run')!.version).toBe('2.0.0-beta.1');
    expect(tools.find('demo.run@1.9.3')!.version).toBe('1.9.3');
    expect(tools.resolve('demo.run@1.9.3')).toBeUndefined(); // calls pin with _meta, never in the name
    expect(tools.resolve('demo.run', { 'mcp-production/version': '1.10.0' })!.version).toBe('1.10.0');
    expect(tools.resolve('demo.run', { 'mcp-production/version': '3.0.0' })).toBeUndefined();
    expect(tools.latest().map((t) => t.version)).toEqual(['2.0.0-beta.1']);
    expect(tools.all()).toHaveLength(3);
  });

  it('refuses a malformed version or sunset date', () => {
    const tools = registry();
    expect(() =>
      tools.register({ name: 'demo.run', version: 'v1', description: 'd', input: z.object({}) }, noop, 'A'),
    ).toThrow(/MAJOR.MINOR.PATCH/);
    expect(() =>
      tools.register(
        {
          name: 'demo.run',
          description: 'd',
          input: z.object({}),
          deprecated: { sunset: 'soon', replacement: 'demo.run' },
        },
        noop,
        'A',
      ),
    ).toThrow(/not an ISO date/);
  });

  it('refuses a non-object input schema', () => {
    const bad = { name: 'demo.bad', description: 'd', input: z.string() as unknown as z.ZodObject };
    expect(() => registry().register(bad, noop, 'A.bad')).toThrow(ToolRegistrationError);
  });

  it.each(['Echo', 'demo..run', 'demo run', '1demo'])('refuses the malformed name %s', (name) => {
    expect(() => registry().register({ name, description: 'd', input: z.object({}) }, noop, 'A.x')).toThrow(
      /name must be lowercase/,
    );
  });
});
