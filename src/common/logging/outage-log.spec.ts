import { DomainError } from '../domain-error.js';
import { OutageLog, outageCause, type FailureLogger } from './outage-log.js';

/** A strict fake logger: keeps every line as (level, object, message). */
class Lines implements FailureLogger {
  readonly lines: { level: 'warn' | 'error'; obj: Record<string, unknown>; msg: string }[] = [];
  warn(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
    address: '127.0.0.1',
    port: 5432,
  });
const terminated = () => new Error('Connection terminated unexpectedly');
const adminShutdown = () =>
  Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

describe('outageCause', () => {
  it.each([
    [refused(), 'ECONNREFUSED 127.0.0.1:5432'],
    [terminated(), 'Connection terminated unexpectedly'],
    [new Error('timeout exceeded when trying to connect'), 'timeout exceeded when trying to connect'],
    [adminShutdown(), 'SQLSTATE 57P01'],
    [
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      'SQLSTATE 57014',
    ],
    [
      Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }),
      'SQLSTATE 25006',
    ],
    [new Error('Connection is closed.'), 'Connection is closed.'],
    [Object.assign(new Error('fetch failed'), { cause: refused() }), 'ECONNREFUSED 127.0.0.1:5432'],
    [Object.assign(new Error('request timed out'), { code: 'ERR_JWKS_TIMEOUT' }), 'ERR_JWKS_TIMEOUT'],
  ])('recognises a dependency outage: %s', (error, cause) => {
    expect(outageCause(error)).toBe(cause);
  });

  it('follows causes (a DomainError wrapping a driver error, TypeORM driverError, AggregateError)', () => {
    const wrapped = Object.assign(new DomainError('AUDIT_UNAVAILABLE', 'down'), { cause: adminShutdown() });
    expect(outageCause(wrapped)).toBe('SQLSTATE 57P01');
    expect(outageCause({ message: 'query failed', driverError: refused() })).toBe(
      'ECONNREFUSED 127.0.0.1:5432',
    );
    expect(outageCause(new AggregateError([refused(), refused()], 'all failed'))).toBe(
      'ECONNREFUSED 127.0.0.1:5432',
    );
    // An outage answer of our own, whatever its cause.
    expect(outageCause(new DomainError('AUTH_UNAVAILABLE', 'IdP down'))).toBe('AUTH_UNAVAILABLE');
  });

  it.each([
    [new TypeError("Cannot read properties of undefined (reading 'x')")],
    [Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })],
    [Object.assign(new Error('invalid input syntax for type integer'), { code: '22P02' })],
    [new DomainError('INVALID_ARGUMENTS', 'bad')],
    ['a string'],
    [undefined],
  ])('does not take a bug or a bad input for an outage: %s', (error) => {
    expect(outageCause(error)).toBeUndefined();
  });
});

describe('OutageLog', () => {
  let now: number;
  let log: OutageLog;
  let out: Lines;
  beforeEach(() => {
    now = 1_000_000;
    log = new OutageLog(10_000, () => now);
    out = new Lines();
  });

  it('logs an outage cause at most once per interval, without a stack, then with the count it suppressed', () => {
    for (let i = 0; i < 1000; i++) {
      log.report(out, refused(), 'tool failed', { tool: 'echo' });
      now += 9; // 1,000 failures over 9 s
    }
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toEqual({
      level: 'warn',
      msg: 'tool failed: dependency unavailable',
      obj: {
        tool: 'echo',
        cause: 'ECONNREFUSED 127.0.0.1:5432',
        error: 'connect ECONNREFUSED 127.0.0.1:5432',
      },
    });
    now += 1_001;
    log.report(out, refused(), 'audit flush failed');
    expect(out.lines).toHaveLength(2);
    expect(out.lines[1].obj).toMatchObject({ cause: 'ECONNREFUSED 127.0.0.1:5432', suppressed: 999 });
    expect(JSON.stringify(out.lines)).not.toMatch(/stack|at .*\(/);
  });

  it('keeps one budget per cause: a 10 s outage with three causes under load writes a handful of lines', () => {
    for (let ms = 0; ms < 10_000; ms += 2) {
      now += 2;
      log.report(out, [refused, terminated, adminShutdown][ms % 3](), 'query failed');
    }
    expect(out.lines.length).toBeLessThanOrEqual(6);
    expect(new Set(out.lines.map((l) => l.obj.cause))).toEqual(
      new Set(['ECONNREFUSED 127.0.0.1:5432', 'Connection terminated unexpectedly', 'SQLSTATE 57P01']),
    );
  });

  it('logs anything else in full, every time, as an error', () => {
    const bug = new TypeError('boom');
    log.report(out, bug, 'tool failed', { tool: 'echo' });
    log.report(out, bug, 'tool failed', { tool: 'echo' });
    expect(out.lines).toEqual([
      { level: 'error', obj: { tool: 'echo', err: bug }, msg: 'tool failed' },
      { level: 'error', obj: { tool: 'echo', err: bug }, msg: 'tool failed' },
    ]);
  });
});
