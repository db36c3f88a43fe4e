import { stdSerializers } from 'pino';
import { QueryFailedError } from 'typeorm';
import { DomainError } from '../domain-error.js';
import { scrubError } from './error-serializer.js';

const CANARY = 'canary-51b2';
/** As pino serializes `err`: its standard serializer, then ours. */
const serialize = (error: Error) => JSON.stringify(scrubError(stdSerializers.err(error)));

function pgError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { severity: 'ERROR', ...fields });
}

describe('scrubError (the `err` serializer of every log line)', () => {
  it("drops a QueryFailedError's parameters and the row PostgreSQL quotes back, keeps what operators need", () => {
    const driverError = pgError('new row for relation "agent_state" violates check constraint "c"', {
      code: '23514',
      detail: `Failing row contains (1, alice, ${CANARY}).`,
      table: 'agent_state',
      constraint: 'c',
    });
    const error = new QueryFailedError(
      'INSERT INTO agent_state VALUES ($1, $2)',
      ['alice', CANARY],
      driverError,
    );
    const json = serialize(error);
    expect(json).not.toContain(CANARY);
    expect(JSON.parse(json)).toMatchObject({
      type: 'QueryFailedError',
      message: 'new row for relation "agent_state" violates check constraint "c"',
      code: '23514',
      table: 'agent_state',
      constraint: 'c',
      query: 'INSERT INTO agent_state VALUES ($1, $2)',
      driverError: { code: '23514', table: 'agent_state' },
    });
  });

  it('masks the quoted values of a data exception (SQLSTATE class 22), also behind a wrapping error', () => {
    const refused = pgError(`invalid input syntax for type integer: "${CANARY}"`, {
      code: '22P02',
      where: `unnamed portal parameter $1 = '${CANARY}'`,
    });
    const wrapped = Object.assign(new DomainError('AUDIT_UNAVAILABLE', 'down'), { cause: refused });
    for (const error of [refused, wrapped]) {
      const json = serialize(error);
      expect(json).not.toContain(CANARY);
      expect(json).toContain('invalid input syntax for type integer: \\"…\\"');
    }
  });

  it('leaves other errors as they are (message, stack, own fields)', () => {
    const error = Object.assign(new Error('relation "agent_state" does not exist'), { code: '42P01' });
    expect(JSON.parse(serialize(error))).toMatchObject({
      message: 'relation "agent_state" does not exist',
      code: '42P01',
      stack: expect.stringContaining('relation "agent_state" does not exist'),
    });
  });
});
