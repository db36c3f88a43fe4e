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

  it('refuses a duplicate name and names both owners', () => {
    const tools = registry();
    tools.register({ name: 'demo.run', description: 'd', input: z.object({}) }, noop, 'A.run');
    expect(() =>
      tools.register({ name: 'demo.run', description: 'd', input: z.object({}) }, noop, 'B.run'),
    ).toThrow(/duplicate name, already declared by A.run/);
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
