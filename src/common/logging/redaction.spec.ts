import { pinoHttp } from 'pino-http';
import { loggerOptions } from './logger.module.js';
import { redactLine } from './redaction.js';

/** The service's logger (pino-http with loggerOptions) writing into `lines`, one parsed object per line. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const { logger } = pinoHttp(loggerOptions('trace'), {
    write: (line: string) => {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, lines, raw };
}

const SECRETS = ['s-token', 's-access', 's-password', 's-secret', 's-client', 's-cookie', 's-auth', 's-deep'];

describe('log redaction', () => {
  it('censors secret-named fields at any depth, keeping everything else', () => {
    const { logger, lines, raw } = capturingLogger();
    logger.info(
      {
        token: 's-token',
        password: 's-password',
        user: { name: 'ada', accessToken: 's-access', secret: 's-secret' },
        client: { id: 'c1', client_secret: 's-client' },
        count: 3,
        deep: { a: [{ b: { Authorization: 's-deep', keep: 'k' } }] },
      },
      'hello',
    );
    expect(lines[0]).toMatchObject({
      msg: 'hello',
      token: '[redacted]',
      password: '[redacted]',
      user: { name: 'ada', accessToken: '[redacted]', secret: '[redacted]' },
      client: { id: 'c1', client_secret: '[redacted]' },
      count: 3,
      deep: { a: [{ b: { Authorization: '[redacted]', keep: 'k' } }] },
    });
    for (const secret of SECRETS) expect(raw.join('')).not.toContain(secret);
  });

  it('censors child bindings, request and response headers and errors, and never changes the logged object', () => {
    const { logger, raw, lines } = capturingLogger();
    const session = { id: 's1', clientSecret: 's-client' };
    logger.child({ session, access_token: 's-access' }).info('bound');
    logger.info(
      {
        req: {
          id: 1,
          method: 'POST',
          url: '/mcp?x=1',
          headers: { authorization: 's-auth', cookie: 's-cookie' },
        },
        res: { statusCode: 200, headers: { 'set-cookie': 's-cookie' } },
      },
      'http',
    );
    logger.error({ err: Object.assign(new Error('boom'), { token: 's-token' }) }, 'failed');
    expect(lines[2]).toMatchObject({
      err: { message: 'boom', stack: expect.stringContaining('Error: boom') },
    });
    for (const secret of SECRETS) expect(raw.join('')).not.toContain(secret);
    expect(lines[0]).toMatchObject({ session: { id: 's1', clientSecret: '[redacted]' } });
    expect(session.clientSecret).toBe('s-client');
  });
});

describe('redactLine', () => {
  it('passes a line without a secret-named field through as the same string', () => {
    const line = '{"level":30,"msg":"token rejected","tokens":2,"reason":"expired"}\n';
    expect(redactLine(line)).toBe(line);
  });

  it('still censors string and scalar values of a line that is not JSON', () => {
    expect(redactLine('{"a":1,"token":"s-token","password":12,"x":"y"')).toBe(
      '{"a":1,"token":"[redacted]","password":"[redacted]","x":"y"',
    );
  });
});
