import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { UriTemplate } from '@modelcontextprotocol/server';
import { discoverMethods } from './method-discovery.js';
import { RESOURCE_METADATA } from './resource.decorator.js';
import type { ResourceDefinition, ResourceHandler, ResourceOptions } from './resource-prompt.types.js';

/** Same rule as tool names: lowercase, dot-separated segments of letters, digits, `_` or `-`. */
const FEATURE_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

export class FeatureRegistrationError extends Error {}

export interface ResolvedResource {
  resource: ResourceDefinition;
  /** Template variables (empty for a fixed URI). */
  variables: Record<string, string>;
}

/**
 * Finds every `@Resource()` method at boot and refuses to start on a duplicate name, URI or template, a bad name,
 * or a declaration with both or neither of `uri` and `uriTemplate`. Fixed URIs win over templates on lookup.
 */
@Injectable()
export class ResourceRegistry implements OnModuleInit {
  private readonly byName = new Map<string, ResourceDefinition>();
  private readonly byUri = new Map<string, ResourceDefinition>();
  private readonly templates: { resource: ResourceDefinition; template: UriTemplate }[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const { options, handler, owner } of discoverMethods<ResourceOptions>(
      this.discovery,
      this.scanner,
      this.reflector,
      RESOURCE_METADATA,
    )) {
      this.register(options, handler as ResourceHandler, owner);
    }
  }

  register(options: ResourceOptions, handler: ResourceHandler, owner: string): void {
    const fail = (why: string) => {
      throw new FeatureRegistrationError(`Resource "${options.name}" (${owner}): ${why}`);
    };
    if (!FEATURE_NAME.test(options.name)) fail('name must be lowercase (letters, digits, ., _ or -)');
    const existing = this.byName.get(options.name);
    if (existing) fail(`duplicate name, already declared by ${existing.owner}`);
    if (!options.uri === !options.uriTemplate) fail('declare exactly one of uri and uriTemplate');
    const definition: ResourceDefinition = {
      name: options.name,
      uri: options.uri,
      uriTemplate: options.uriTemplate,
      title: options.title,
      description: options.description,
      mimeType: options.mimeType,
      complete: options.complete ?? {},
      handler,
      owner,
    };
    if (options.uri) {
      if (!URL.canParse(options.uri)) fail(`uri "${options.uri}" is not a URI`);
      if (this.byUri.has(options.uri)) fail(`duplicate uri ${options.uri}`);
      if (Object.keys(definition.complete).length) fail('complete applies to uriTemplate variables only');
      this.byUri.set(options.uri, definition);
    } else {
      const template = new UriTemplate(options.uriTemplate!);
      if (this.templates.some((t) => t.resource.uriTemplate === options.uriTemplate))
        fail(`duplicate uriTemplate ${options.uriTemplate}`);
      const unknown = Object.keys(definition.complete).filter((v) => !template.variableNames.includes(v));
      if (unknown.length) fail(`complete names unknown template variable(s) ${unknown.join(', ')}`);
      this.templates.push({ resource: definition, template });
    }
    this.byName.set(options.name, definition);
  }

  /** The resource serving `uri`: a fixed URI first, then the first template that matches. */
  resolve(uri: string): ResolvedResource | undefined {
    const fixed = this.byUri.get(uri);
    if (fixed) return { resource: fixed, variables: {} };
    for (const { resource, template } of this.templates) {
      const match = template.match(uri);
      if (match) {
        const variables = Object.fromEntries(
          Object.entries(match).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
        );
        return { resource, variables };
      }
    }
    return undefined;
  }

  /** The template resource declared with exactly this `uriTemplate` (a `ref/resource` of `completion/complete`). */
  template(uriTemplate: string): ResourceDefinition | undefined {
    return this.templates.find((t) => t.resource.uriTemplate === uriTemplate)?.resource;
  }

  get(name: string): ResourceDefinition | undefined {
    return this.byName.get(name);
  }

  /** Fixed-URI resources (`resources/list`). */
  fixed(): ResourceDefinition[] {
    return [...this.byUri.values()];
  }

  /** Templates (`resources/templates/list`). */
  templated(): ResourceDefinition[] {
    return this.templates.map((t) => t.resource);
  }
}
