import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { TOOL_METADATA } from './tool.decorator.js';
import type { ToolDefinition, ToolOptions } from './tool.types.js';

const TOOL_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

export class ToolRegistrationError extends Error {}

/**
 * Finds every `@Tool()` method on the loaded providers at boot, converts its schemas once, and refuses to start
 * on a duplicate name, a bad name or a non-object schema.
 */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  private readonly tools = new Map<string, ToolDefinition>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const options = this.reflector.get<ToolOptions | undefined>(
          TOOL_METADATA,
          prototype[method] as () => void,
        );
        if (!options) continue;
        const handler = (prototype[method] as (...args: unknown[]) => unknown).bind(instance);
        this.register(options, handler, `${instance.constructor.name}.${method}`);
      }
    }
  }

  register(options: ToolOptions, handler: ToolDefinition['handler'], owner: string): void {
    const fail = (why: string) => {
      throw new ToolRegistrationError(`Tool "${options.name}" (${owner}): ${why}`);
    };
    if (!TOOL_NAME.test(options.name))
      fail('name must be lowercase `<pack>.<verb>` (letters, digits, _ or -)');
    if (this.tools.has(options.name))
      fail(`duplicate name, already declared by ${this.tools.get(options.name)!.owner}`);
    if (!(options.input instanceof z.ZodObject)) fail('input schema must be a zod object');
    if (options.output && !(options.output instanceof z.ZodObject))
      fail('output schema must be a zod object');
    this.tools.set(options.name, {
      name: options.name,
      version: options.version ?? '1.0.0',
      title: options.title,
      description: options.description,
      input: options.input,
      output: options.output,
      inputJsonSchema: toJsonSchema(options.input, 'input'),
      outputJsonSchema: options.output && toJsonSchema(options.output, 'output'),
      annotations: options.annotations,
      handler,
      owner,
    });
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  all(): ToolDefinition[] {
    return [...this.tools.values()];
  }
}

function toJsonSchema(schema: z.ZodObject, io: 'input' | 'output'): Record<string, unknown> {
  // `$schema` is dropped: clients validate with draft-07 validators that reject the 2020-12 URI.
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json;
}
