import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

export interface DiscoveredMethod<T> {
  options: T;
  handler: (...args: unknown[]) => unknown;
  /** `Class.method`, for diagnostics. */
  owner: string;
}

/** Every provider method carrying `key` metadata (set by a method decorator), bound to its instance. */
export function discoverMethods<T>(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
  key: symbol,
): DiscoveredMethod<T>[] {
  const found: DiscoveredMethod<T>[] = [];
  for (const wrapper of discovery.getProviders()) {
    const instance: unknown = wrapper.instance;
    if (!instance || typeof instance !== 'object') continue;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    for (const method of scanner.getAllMethodNames(prototype)) {
      const options = reflector.get<T | undefined>(key, prototype[method] as () => void);
      if (!options) continue;
      found.push({
        options,
        handler: (prototype[method] as (...args: unknown[]) => unknown).bind(instance),
        owner: `${instance.constructor.name}.${method}`,
      });
    }
  }
  return found;
}
