import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { discoverMethods } from './method-discovery.js';
import { PROMPT_METADATA } from './prompt.decorator.js';
import type { PromptDefinition, PromptHandler, PromptOptions } from './resource-prompt.types.js';
import { FeatureRegistrationError } from './resource-registry.service.js';

const FEATURE_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

/**
 * Finds every `@Prompt()` method at boot; refuses to start on a duplicate or malformed name, a non-object
 * `args` schema, an argument that is not a string, or a completer for an unknown argument.
 */
@Injectable()
export class PromptRegistry implements OnModuleInit {
  private readonly prompts = new Map<string, PromptDefinition>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const { options, handler, owner } of discoverMethods<PromptOptions>(
      this.discovery,
      this.scanner,
      this.reflector,
      PROMPT_METADATA,
    )) {
      this.register(options, handler as PromptHandler, owner);
    }
  }

  register(options: PromptOptions, handler: PromptHandler, owner: string): void {
    const fail = (why: string) => {
      throw new FeatureRegistrationError(`Prompt "${options.name}" (${owner}): ${why}`);
    };
    if (!FEATURE_NAME.test(options.name)) fail('name must be lowercase (letters, digits, ., _ or -)');
    const existing = this.prompts.get(options.name);
    if (existing) fail(`duplicate name, already declared by ${existing.owner}`);
    if (options.args && !(options.args instanceof z.ZodObject)) fail('args schema must be a zod object');
    const args = Object.entries(options.args?.shape ?? {}).map(([name, schema]) => {
      const type = schema as z.ZodType;
      const inner = type.isOptional() ? (type as z.ZodOptional).unwrap() : type;
      if (!(inner instanceof z.ZodString))
        fail(`argument "${name}" must be a zod string (prompt arguments are strings)`);
      return {
        name,
        ...(type.description && { description: type.description }),
        required: !type.isOptional(),
      };
    });
    const complete = (options.complete ?? {}) as PromptDefinition['complete'];
    const unknown = Object.keys(complete).filter((name) => !args.some((a) => a.name === name));
    if (unknown.length) fail(`complete names unknown argument(s) ${unknown.join(', ')}`);
    this.prompts.set(options.name, {
      name: options.name,
      title: options.title,
      description: options.description,
      args: options.args,
      arguments: args,
      complete,
      handler,
      owner,
    });
  }

  get(name: string): PromptDefinition | undefined {
    return this.prompts.get(name);
  }

  all(): PromptDefinition[] {
    return [...this.prompts.values()];
  }
}
