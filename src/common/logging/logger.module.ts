import { Module } from '@nestjs/common';
import { LoggerModule as PinoLoggerModule } from 'nestjs-pino';
import { AppConfig } from '../../config/app-config.js';

/** Paths redacted from every log line: credentials never reach the logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
];

@Module({
  imports: [
    PinoLoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
          // Request lines come from the HTTP timing interceptor and the app's onResponse hook (app.factory.ts).
          autoLogging: false,
          serializers: {
            // Only what operators need; the query string is dropped (tokens sent there must not be logged).
            req: (req: { id: unknown; method: string; url?: string; headers?: Record<string, unknown> }) => ({
              id: req.id,
              method: req.method,
              url: req.url?.split('?')[0],
              userAgent: req.headers?.['user-agent'],
            }),
          },
          transport:
            config.env === 'development' && process.stdout.isTTY
              ? { target: 'pino-pretty', options: { singleLine: true } }
              : undefined,
        },
      }),
    }),
  ],
})
export class LoggerModule {}
