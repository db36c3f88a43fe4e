import type { IncomingMessage } from 'node:http';

const LOGGED = Symbol('request-logged');

/**
 * One log line per HTTP request: the HTTP timing interceptor logs requests that reach a handler and marks them;
 * the app's Fastify onResponse hook logs the rest (refused by a guard, unmatched routes, body errors).
 */
export function markLogged(req: IncomingMessage): void {
  (req as IncomingMessage & { [LOGGED]?: true })[LOGGED] = true;
}

export function isLogged(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [LOGGED]?: true })[LOGGED] === true;
}
