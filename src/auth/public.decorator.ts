import { SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

export const IS_PUBLIC = Symbol('auth:public');

/**
 * Opts a controller or route out of authentication. Everything else needs a valid bearer token (default-deny):
 * keep this to probes, metrics and discovery documents.
 */
export const Public = (): CustomDecorator<symbol> => SetMetadata(IS_PUBLIC, true);

export function isPublic(reflector: Reflector, context: ExecutionContext): boolean {
  return isPublicRoute(reflector, context.getHandler(), context.getClass());
}

/** A function as Nest's reflection sees it: a route handler method, or a controller class. */
type Target = ReturnType<ExecutionContext['getHandler']>;

/** `isPublic` for a controller method known by reference (the route list of `BearerAuthHook`). */
export function isPublicRoute(reflector: Reflector, handler: Target, controller: Target): boolean {
  return reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, controller]) === true;
}
