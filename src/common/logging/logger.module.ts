import { Module } from '@nestjs/common';
import { LoggerModule as PinoLoggerModule } from 'nestjs-pino';
import { destination as fileDestination, type DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { AppConfig } from '../../config/app-config.js';
import { scrubError } from './error-serializer.js';
import { redactLine } from './redaction.js';

/** Where log lines go: stdout, unless a test captured them (set before the app is created). */
let destination: DestinationStream | undefined;

/** Test hook: send every log line of apps created from now on to `stream` (undefined: stdout again). */
export function captureLogs(stream: DestinationStream | undefined): void {
  destination = stream;
}

/**
 * stdout without a synchronous write (a syscall on this thread) per log line: writes go out asynchronously, and the
 * lines logged while one is out leave together in the next. At low traffic a line is still out at once; on exit
 * what is pending is flushed (pino's exit hook). The audit trail, not the log, is the durable record.
 */
function asyncStdout(): DestinationStream {
  return fileDestination({ dest: 1, sync: false });
}

/** pino-http's options for this service (exported for the redaction spec, which logs through real pino). */
export function loggerOptions(level: string): Options {
  return {
    level,
    // Credentials never reach the logs (redaction.ts says why this is not pino's `redact` option).
    hooks: { streamWrite: redactLine },
    // Request lines come from the HTTP timing interceptor and the app's onResponse hook (app.factory.ts).
    autoLogging: false,
    serializers: {
      // Errors without the properties that can carry arguments or SQL parameters.
      err: scrubError,
      // Only what operators need; the query string is dropped (tokens sent there must not be logged).
      req: (req: { id: unknown; method: string; url?: string; headers?: Record<string, unknown> }) => ({
        id: req.id,
        method: req.method,
        url: req.url?.split('?')[0],
        userAgent: req.headers?.['user-agent'],
      }),
    },
  };
}

@Module({
  imports: [
    PinoLoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const options = loggerOptions(config.logLevel);
        if (destination) return { pinoHttp: [options, destination] };
        if (config.env === 'development' && process.stdout.isTTY)
          return {
            pinoHttp: { ...options, transport: { target: 'pino-pretty', options: { singleLine: true } } },
          };
        return { pinoHttp: [options, asyncStdout()] };
      },
    }),
  ],
})
export class LoggerModule {}
