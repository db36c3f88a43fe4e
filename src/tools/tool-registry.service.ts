import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { TOOL_METADATA } from './tool.decorator.js';
import type { ToolDefinition, ToolOptions } from './tool.types.js';

const TOOL_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;
/** `MAJOR.MINOR.PATCH`, optionally with a pre-release suffix (`2.0.0-beta.1`). */
const TOOL_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

export class ToolRegistrationError extends Error {}

/**
 * Finds every `@Tool()` method on the loaded providers at boot, converts its schemas once, and refuses to start
 * on a duplicate name+version, a bad name or version, a non-object schema or a deprecation naming no tool.
 * Several versions of one tool may coexist; the plain name means the latest (highest) version.
 */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  /** name → its versions, highest first. */
  private readonly tools = new Map<string, ToolDefinition[]>();

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
    this.checkReplacements();
  }

  register(options: ToolOptions, handler: ToolDefinition['handler'], owner: string): void {
    const fail = (why: string) => {
      throw new ToolRegistrationError(`Tool "${options.name}" (${owner}): ${why}`);
    };
    if (!TOOL_NAME.test(options.name))
      fail('name must be lowercase `<pack>.<verb>` (letters, digits, _ or -)');
    const version = options.version ?? '1.0.0';
    if (!TOOL_VERSION.test(version)) fail(`version "${version}" must be MAJOR.MINOR.PATCH`);
    const existing = this.get(options.name, version);
    if (existing) fail(`duplicate name and version ${version}, already declared by ${existing.owner}`);
    const sunsetAt = options.deprecated && new Date(options.deprecated.sunset);
    if (sunsetAt && Number.isNaN(sunsetAt.getTime()))
      fail(`deprecated.sunset "${options.deprecated!.sunset}" is not an ISO date`);
    if (!(options.input instanceof z.ZodObject)) fail('input schema must be a zod object');
    if (options.inputJsonSchema && options.inputJsonSchema.type !== 'object')
      fail('inputJsonSchema must be an object schema (type "object")');
    if (options.output && !(options.output instanceof z.ZodObject))
      fail('output schema must be a zod object');
    const versions = this.tools.get(options.name) ?? [];
    versions.push({
      name: options.name,
      version,
      title: options.title,
      description: options.description,
      input: options.input,
      output: options.output,
      inputJsonSchema: options.inputJsonSchema ?? toJsonSchema(options.input, 'input'),
      outputJsonSchema: options.output && toJsonSchema(options.output, 'output'),
      annotations: options.annotations,
      rateLimit: options.rateLimit,
      breaker: options.breaker,
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      deprecated: options.deprecated && { ...options.deprecated, sunsetAt: sunsetAt! },
      handler,
      owner,
    });
    versions.sort((a, b) => compareVersions(b.version, a.version));
    this.tools.set(options.name, versions);
  }

  /** One version of a tool, or its latest when `version` is omitted. */
  get(name: string, version?: string): ToolDefinition | undefined {
    const versions = this.tools.get(name);
    return version === undefined ? versions?.[0] : versions?.find((t) => t.version === version);
  }

  /**
   * The tool a `tools/call` names: its latest version, or the version pinned with
   * `params._meta["mcp-production/version"]`. The name itself stays plain, so the scope (`tool:<name>`), the
   * rate-limit key and every log line name the tool the same way whatever the version.
   */
  resolve(callName: string, meta?: Record<string, unknown>): ToolDefinition | undefined {
    const pinned = meta?.[VERSION_META];
    return this.get(callName, typeof pinned === 'string' ? pinned : undefined);
  }

  /** A tool reference as written in docs and deprecations: `name` (latest) or `name@version`. */
  find(ref: string): ToolDefinition | undefined {
    const at = ref.lastIndexOf('@');
    return at > 0 ? this.get(ref.slice(0, at), ref.slice(at + 1)) : this.get(ref);
  }

  /** Every version of every tool. */
  all(): ToolDefinition[] {
    return [...this.tools.values()].flat();
  }

  /** The latest version of each tool (what `tools/list` offers under the plain name). */
  latest(): ToolDefinition[] {
    return [...this.tools.values()].map((versions) => versions[0]);
  }

  /** Every version of one tool, highest first. */
  versionsOf(name: string): readonly ToolDefinition[] {
    return this.tools.get(name) ?? [];
  }

  /** A deprecation must point at a tool that exists, or callers would be sent nowhere. */
  private checkReplacements(): void {
    for (const tool of this.all()) {
      if (tool.deprecated && !this.find(tool.deprecated.replacement)) {
        throw new ToolRegistrationError(
          `Tool "${tool.name}@${tool.version}" (${tool.owner}): deprecated.replacement "${tool.deprecated.replacement}" names no registered tool`,
        );
      }
    }
  }
}

/** `_meta` key of a tool descriptor's version, also accepted on `tools/call` to pin one. */
export const VERSION_META = 'mcp-production/version';

/** Semver precedence for MAJOR.MINOR.PATCH[-pre]: numeric parts, then a release above its pre-releases. */
export function compareVersions(a: string, b: string): number {
  const [coreA, preA] = splitVersion(a);
  const [coreB, preB] = splitVersion(b);
  for (let i = 0; i < 3; i++) if (coreA[i] !== coreB[i]) return coreA[i] - coreB[i];
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

function splitVersion(version: string): [number[], string | undefined] {
  const dash = version.indexOf('-');
  const core = dash < 0 ? version : version.slice(0, dash);
  return [core.split('.').map(Number), dash < 0 ? undefined : version.slice(dash + 1)];
}

function toJsonSchema(schema: z.ZodObject, io: 'input' | 'output'): Record<string, unknown> {
  // `$schema` is dropped: clients validate with draft-07 validators that reject the 2020-12 URI.
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json;
}
