import { SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

export const IS_PUBLIC = Symbol('auth:public');

/**
 * Opts a controller or route out of authentication. Everything else needs a valid bearer token (default-deny):
 * keep this to probes, metrics and discovery documents.
 */
export const Public = (): CustomDecorator<symbol> => SetMetadata(IS_PUBLIC, true);

export function isPublic(reflector: Reflector, context: ExecutionContext): boolean {
  return reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]) === true;
}
