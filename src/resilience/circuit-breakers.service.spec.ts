import type { PinoLogger } from 'nestjs-pino';
import { DomainError } from '../common/domain-error.js';
import { loadConfig } from '../config/app-config.js';
import { TransientError } from '../tools/tool-errors.js';
import { CircuitBreakers } from './circuit-breakers.service.js';
import { callerDatabaseError, failureCause } from './failure-attribution.js';

const logger = {
  setContext: () => undefined,
  warn: () => undefined,
  info: () => undefined,
} as unknown as PinoLogger;
const settings = { failures: 2, halfOpenAfterMs: 100 };
const fail = (error: Error) => () => Promise.reject(error);
const succeed = () => Promise.resolve('ok');
const A = { agentId: 'agent-a' };
const B = { agentId: 'agent-b' };
/** A node-postgres error as it reaches the pipeline (also wrapped by TypeORM's QueryFailedError). */
const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('CircuitBreakers', () => {
  let breakers: CircuitBreakers;
  beforeEach(() => {
    breakers = new CircuitBreakers(loadConfig({}), logger);
  });

  /** Fails once as `caller` and checks it threw `expected`. */
  const failAs = (key: string, caller: { agentId: string }, error: Error = new Error('boom')) =>
    expect(breakers.execute(key, settings, fail(error), caller)).rejects.toBe(error);

  it('opens after N consecutive failures of two agents, fails fast, then closes after a successful probe', async () => {
    await failAs('t@1', A);
    await failAs('t@1', B);
    const ran = counting();
    await expect(breakers.execute('t@1', settings, ran.fn, A)).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
      details: { retryAfterMs: expect.any(Number) },
    });
    expect(ran.calls).toBe(0);
    expect(breakers.snapshot('t@1')).toMatchObject({
      state: 'open',
      failures: 2,
      minAgents: 2,
      halfOpenAfterMs: 100,
    });

    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(breakers.snapshot('t@1').state).toBe('half_open');
    await expect(breakers.execute('t@1', settings, succeed, B)).resolves.toBe('ok');
    expect(breakers.snapshot('t@1').state).toBe('closed');
  });

  it("never opens on one agent's failures alone, however many", async () => {
    for (let i = 0; i < 20; i++) await failAs('t@solo', A);
    expect(breakers.snapshot('t@solo').state).toBe('closed');
    await expect(breakers.execute('t@solo', settings, succeed, B)).resolves.toBe('ok');
  });

  it("counts one agent at most ⌈N / BREAKER_MIN_AGENTS⌉ times in a run, so a second agent's single failure is not enough for a larger N", async () => {
    const five = { failures: 5, halfOpenAfterMs: 100 };
    const failWith = (caller: { agentId: string }) =>
      expect(breakers.execute('t@5', five, fail(new Error('x')), caller)).rejects.toThrow('x');
    for (let i = 0; i < 10; i++) await failWith(A); // counts 3
    await failWith(B); // 4
    expect(breakers.snapshot('t@5', five).state).toBe('closed');
    await failWith(B); // 5, from two agents
    expect(breakers.snapshot('t@5', five).state).toBe('open');
  });

  it('a success ends the run of failures', async () => {
    await failAs('t@run', A);
    await expect(breakers.execute('t@run', settings, succeed, A)).resolves.toBe('ok');
    await failAs('t@run', B);
    expect(breakers.snapshot('t@run').state).toBe('closed');
  });

  it('honours BREAKER_MIN_AGENTS=1 (single-agent deployments)', async () => {
    breakers = new CircuitBreakers(loadConfig({ BREAKER_MIN_AGENTS: '1' }), logger);
    await failAs('t@one', A);
    await failAs('t@one', A);
    expect(breakers.snapshot('t@one').state).toBe('open');
  });

  it('re-opens when the half-open probe fails, and lets only one probe through at a time', async () => {
    await failAs('t@2', A, new TransientError());
    await failAs('t@2', B, new TransientError());
    await new Promise((resolve) => setTimeout(resolve, 120));
    let release!: () => void;
    const probe = breakers.execute(
      't@2',
      settings,
      () => new Promise<never>((_resolve, reject) => (release = () => reject(new Error('still down')))),
      A,
    );
    await expect(breakers.execute('t@2', settings, succeed, B)).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
    });
    release();
    await expect(probe).rejects.toThrow('still down');
    expect(breakers.snapshot('t@2').state).toBe('open');
  });

  it("does not count the caller's input, definite domain answers, or failures after the caller went away", async () => {
    const gone = new AbortController();
    gone.abort();
    for (const caller of [A, B]) {
      for (let i = 0; i < 5; i++) {
        await failAs('t@3', caller, new DomainError('INVALID_ARGUMENTS', 'bad'));
        await failAs('t@3', caller, new DomainError('STATE_VERSION_CONFLICT', 'stale'));
        await failAs('t@3', caller, pgError('22021')); // NUL in text
        await failAs('t@3', caller, pgError('23505')); // unique violation
        await failAs('t@3', caller, pgError('54001')); // statement too complex
        await expect(
          breakers.execute('t@3', settings, fail(new Error('cancelled')), { ...caller, signal: gone.signal }),
        ).rejects.toThrow('cancelled');
      }
    }
    expect(breakers.snapshot('t@3').state).toBe('closed');
    // Dependency timeouts of two agents do count.
    await failAs('t@3', A, new DomainError('TOOL_TIMEOUT', 'slow'));
    await failAs('t@3', B, pgError('57014')); // statement timeout
    expect(breakers.snapshot('t@3').state).toBe('open');
  });

  it("stays half-open when the probe ends with the caller's error or the prober left; only a success closes it", async () => {
    await failAs('t@4', A);
    await failAs('t@4', B);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const gone = new AbortController();
    gone.abort();
    await expect(
      breakers.execute('t@4', settings, fail(new Error('x')), { ...A, signal: gone.signal }),
    ).rejects.toThrow();
    expect(breakers.snapshot('t@4').state).toBe('half_open');
    await failAs('t@4', B, new DomainError('INVALID_ARGUMENTS', 'bad'));
    expect(breakers.snapshot('t@4').state).toBe('half_open');
    await expect(breakers.execute('t@4', settings, succeed, B)).resolves.toBe('ok');
    expect(breakers.snapshot('t@4').state).toBe('closed');
  });

  it('keeps one breaker per key', async () => {
    await failAs('a@1', A);
    await failAs('a@1', B);
    await expect(breakers.execute('a@2', settings, succeed, A)).resolves.toBe('ok');
    expect(breakers.snapshot('a@2').state).toBe('closed');
    expect(breakers.snapshot('a@1').state).toBe('open');
  });
});

describe('failure attribution', () => {
  it.each([
    ['TOOL_TIMEOUT', 'dependency', new DomainError('TOOL_TIMEOUT', 'x')],
    ['TransientError', 'dependency', new TransientError()],
    ['INTERNAL_ERROR', 'dependency', new DomainError('INTERNAL_ERROR', 'x')],
    ['an unexpected Error', 'dependency', new Error('unexpected')],
    ['SQLSTATE 08006', 'dependency', pgError('08006')],
    ['SQLSTATE 57P01', 'dependency', pgError('57P01')],
    ['SQLSTATE 53300', 'dependency', pgError('53300')],
    ['SQLSTATE 40001', 'dependency', pgError('40001')],
    ['ECONNRESET', 'dependency', Object.assign(new Error('reset'), { code: 'ECONNRESET' })],
    ['INVALID_ARGUMENTS', 'caller', new DomainError('INVALID_ARGUMENTS', 'x')],
    ['STATE_KEY_INVALID', 'caller', new DomainError('STATE_KEY_INVALID', 'x')],
    ['GRANT_DENIED', 'caller', new DomainError('GRANT_DENIED', 'x')],
    ['SQLSTATE 22021', 'caller', pgError('22021')],
    ['SQLSTATE 22P02', 'caller', pgError('22P02')],
    ['SQLSTATE 23505', 'caller', pgError('23505')],
    [
      'QueryFailedError with SQLSTATE 22003',
      'caller',
      Object.assign(new Error('QueryFailedError'), { driverError: { code: '22003' } }),
    ],
  ])('%s → %s', (_label, cause, error) => {
    expect(failureCause(error)).toBe(cause);
  });

  it('turns a database data error into INVALID_ARGUMENTS without the database message', () => {
    const error = Object.assign(new Error('invalid byte sequence: "secret-argument"'), {
      driverError: { code: '22021' },
      parameters: ['secret-argument'],
    });
    const mapped = callerDatabaseError(error);
    expect(mapped).toMatchObject({ code: 'INVALID_ARGUMENTS', details: { sqlstate: '22021' } });
    expect(JSON.stringify({ message: mapped!.message, details: mapped!.details })).not.toContain('secret');
    expect(callerDatabaseError(pgError('08006'))).toBeUndefined();
    expect(callerDatabaseError(new DomainError('INVALID_ARGUMENTS', 'x'))).toBeUndefined();
  });
});

/** A counting async function (Jest's `jest.fn` is not a global in ESM mode). */
function counting() {
  const spy = { calls: 0, fn: () => ((spy.calls += 1), Promise.resolve('ran')) };
  return spy;
}
