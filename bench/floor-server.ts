/**
 * Floors for the benchmark's "where the gap is" rows (issue #19): the legacy `echo` call answered with no MCP SDK
 * and no policy, so that one run shows how much of a call's CPU the stack itself costs before any MCP or policy
 * work. Modes, by argv[3]:
 *
 *   http  node:http alone: read the body, `JSON.parse`, answer the JSON-RPC result with `JSON.stringify`.
 *   nest  the service's framework shape without its work: NestJS + FastifyAdapter + nestjs-pino (the service's
 *         logger options and asynchronous stdout), five pass-through global guards and one global interceptor
 *         that logs one line per request, as the service's five guards and timing interceptor do; one controller.
 *
 * Usage: node dist/bench/floor-server.js <port> <http|nest>
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import {
  Body,
  Controller,
  HttpCode,
  Injectable,
  Module,
  Post,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, LoggerModule, PinoLogger } from 'nestjs-pino';
import { destination } from 'pino';
import { finalize } from 'rxjs';
import { loggerOptions } from '../src/common/logging/logger.module.js';

const port = Number(process.argv[2] ?? 3400);
const mode = process.argv[3] ?? 'http';

interface Call {
  id: number | string;
  params: { arguments: { text: string } };
}

const answer = ({ id, params }: Call) => ({
  jsonrpc: '2.0',
  id,
  result: { content: [{ type: 'text', text: params.arguments.text }] },
});

@Injectable()
class PassGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class LogInterceptor implements NestInterceptor {
  constructor(private readonly log: PinoLogger) {
    log.setContext('http');
  }

  intercept(context: ExecutionContext, next: CallHandler) {
    const started = performance.now();
    const req = context.switchToHttp().getRequest<{ method: string; url: string }>();
    return next
      .handle()
      .pipe(
        finalize(() =>
          this.log.info({ method: req.method, url: req.url, ms: performance.now() - started }, 'call'),
        ),
      );
  }
}

@Controller()
class EchoController {
  @Post('mcp')
  @HttpCode(200)
  post(@Body() call: Call) {
    return answer(call);
  }
}

@Module({
  imports: [
    LoggerModule.forRoot({ pinoHttp: [loggerOptions('info'), destination({ dest: 1, sync: false })] }),
  ],
  controllers: [EchoController],
  providers: [
    ...Array.from({ length: 5 }, () => ({ provide: APP_GUARD, useClass: PassGuard })),
    { provide: APP_INTERCEPTOR, useClass: LogInterceptor },
  ],
})
class FloorModule {}

if (mode === 'http') {
  createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.stringify(answer(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Call));
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  }).listen(port, '127.0.0.1');
} else if (mode === 'nest') {
  const app = await NestFactory.create<NestFastifyApplication>(FloorModule, new FastifyAdapter(), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  await app.listen({ port, host: '127.0.0.1' });
} else {
  throw new Error(`mode: http | nest, not ${mode}`);
}
