import type { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { loadConfig } from '../config/app-config.js';
import { TransientError } from '../tools/tool-errors.js';
import { CircuitBreakers } from './circuit-breakers.service.js';

const logger = {
  setContext: () => undefined,
  warn: () => undefined,
  info: () => undefined,
} as unknown as PinoLogger;
const settings = { failures: 2, halfOpenAfterMs: 100 };
const fail = (error: Error) => () => Promise.reject(error);
const succeed = () => Promise.resolve('ok');

describe('CircuitBreakers', () => {
  let breakers: CircuitBreakers;
  beforeEach(() => {
    breakers = new CircuitBreakers(loadConfig({}), logger);
  });

  it('opens after N consecutive failures, fails fast, then closes after a successful probe', async () => {
    for (let i = 0; i < 2; i++)
      await expect(breakers.execute('t@1', settings, fail(new Error('boom')))).rejects.toThrow('boom');
    const ran = counting();
    await expect(breakers.execute('t@1', settings, ran.fn)).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
      details: { retryAfterMs: expect.any(Number) },
    });
    expect(ran.calls).toBe(0);
    expect(breakers.snapshot('t@1')).toMatchObject({ state: 'open', failures: 2, halfOpenAfterMs: 100 });

    await new Promise((resolve) => setTimeout(resolve, 120));
    await expect(breakers.execute('t@1', settings, succeed)).resolves.toBe('ok');
    expect(breakers.snapshot('t@1').state).toBe('closed');
  });

  it('re-opens when the half-open probe fails', async () => {
    for (let i = 0; i < 2; i++)
      await expect(breakers.execute('t@2', settings, fail(new TransientError()))).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 120));
    await expect(breakers.execute('t@2', settings, fail(new Error('still down')))).rejects.toThrow(
      'still down',
    );
    expect(breakers.snapshot('t@2').state).toBe('open');
  });

  it('does not count definite domain answers or failures after the caller went away', async () => {
    const gone = new AbortController();
    gone.abort();
    for (let i = 0; i < 5; i++) {
      await expect(
        breakers.execute('t@3', settings, fail(new DomainError('INVALID_ARGUMENTS', 'bad'))),
      ).rejects.toThrow('bad');
      await expect(
        breakers.execute('t@3', settings, fail(new Error('cancelled')), gone.signal),
      ).rejects.toThrow('cancelled');
    }
    expect(breakers.snapshot('t@3').state).toBe('closed');
    // Timeouts do count.
    for (let i = 0; i < 2; i++)
      await expect(
        breakers.execute('t@3', settings, fail(new DomainError('TOOL_TIMEOUT', 'slow'))),
      ).rejects.toThrow();
    expect(breakers.snapshot('t@3').state).toBe('open');
  });

  it('keeps one breaker per key', async () => {
    for (let i = 0; i < 2; i++)
      await expect(breakers.execute('a@1', settings, fail(new Error('x')))).rejects.toThrow();
    await expect(breakers.execute('a@2', settings, succeed)).resolves.toBe('ok');
    expect(breakers.snapshot('a@2').state).toBe('closed');
  });
});

/** A counting async function (Jest's `jest.fn` is not a global in ESM mode). */
function counting() {
  const spy = { calls: 0, fn: () => ((spy.calls += 1), Promise.resolve('ran')) };
  return spy;
}
