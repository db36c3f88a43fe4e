import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { PromptRegistry } from './prompt-registry.service.js';
import { FeatureRegistrationError, ResourceRegistry } from './resource-registry.service.js';

const deps = [{} as DiscoveryService, {} as MetadataScanner, {} as Reflector] as const;
const noop = () => '';

describe('ResourceRegistry', () => {
  it('resolves fixed URIs before templates and extracts template variables', () => {
    const resources = new ResourceRegistry(...deps);
    resources.register(
      { name: 'docs.item', uriTemplate: 'docs://items/{id}', description: 'd' },
      noop,
      'R.item',
    );
    resources.register({ name: 'docs.special', uri: 'docs://items/special', description: 'd' }, noop, 'R.sp');
    expect(resources.resolve('docs://items/special')?.resource.name).toBe('docs.special');
    expect(resources.resolve('docs://items/42')).toMatchObject({
      resource: { name: 'docs.item' },
      variables: { id: '42' },
    });
    expect(resources.resolve('other://x')).toBeUndefined();
    expect(resources.fixed().map((r) => r.name)).toEqual(['docs.special']);
    expect(resources.templated().map((r) => r.name)).toEqual(['docs.item']);
    expect(resources.template('docs://items/{id}')?.name).toBe('docs.item');
  });

  it('refuses bad declarations at boot', () => {
    const resources = new ResourceRegistry(...deps);
    resources.register({ name: 'a', uri: 'test://a', description: 'd' }, noop, 'R.a');
    const refused = (options: Parameters<ResourceRegistry['register']>[0]) =>
      expect(() => resources.register(options, noop, 'R.x')).toThrow(FeatureRegistrationError);
    refused({ name: 'a', uri: 'test://other', description: 'duplicate name' });
    refused({ name: 'b', uri: 'test://a', description: 'duplicate uri' });
    refused({ name: 'c', description: 'neither uri nor template' });
    refused({ name: 'd', uri: 'test://d', uriTemplate: 'test://{x}', description: 'both' });
    refused({ name: 'Bad:Name', uri: 'test://e', description: 'name' });
    refused({ name: 'f', uriTemplate: 'test://{x}', description: 'd', complete: { y: () => [] } });
  });
});

describe('PromptRegistry', () => {
  it('derives the MCP argument list from the zod schema', () => {
    const prompts = new PromptRegistry(...deps);
    prompts.register(
      {
        name: 'review.code',
        description: 'd',
        args: z.object({ code: z.string().describe('The code'), style: z.string().optional() }),
      },
      noop,
      'P.code',
    );
    expect(prompts.get('review.code')?.arguments).toEqual([
      { name: 'code', description: 'The code', required: true },
      { name: 'style', required: false },
    ]);
  });

  it('refuses non-string arguments, duplicates and completers of unknown arguments', () => {
    const prompts = new PromptRegistry(...deps);
    prompts.register({ name: 'p', description: 'd' }, noop, 'P.p');
    expect(() => prompts.register({ name: 'p', description: 'd' }, noop, 'P.q')).toThrow(/duplicate/);
    expect(() =>
      prompts.register({ name: 'n', description: 'd', args: z.object({ n: z.number() }) }, noop, 'P.n'),
    ).toThrow(/must be a zod string/);
    expect(() =>
      prompts.register(
        {
          name: 'c',
          description: 'd',
          args: z.object({ a: z.string() }),
          complete: { b: () => [] },
        },
        noop,
        'P.c',
      ),
    ).toThrow(/unknown argument/);
  });
});
