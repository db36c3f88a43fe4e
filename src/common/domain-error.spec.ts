import { DomainError, defineErrorCodes } from './domain-error.js';

describe('defineErrorCodes', () => {
  it('gives a pack codes a DomainError accepts, each equal to its name', () => {
    const Errors = defineErrorCodes({ NOTE_TOO_LONG: 'The note is over the limit' });
    expect(Errors.NOTE_TOO_LONG).toBe('NOTE_TOO_LONG');
    expect(new DomainError(Errors.NOTE_TOO_LONG, 'too long').code).toBe('NOTE_TOO_LONG');
  });

  it('refuses a core code, which transports would map as their own (e.g. a denial)', () => {
    // @ts-expect-error -- a core code cannot be declared by a pack
    expect(() => defineErrorCodes({ GRANT_DENIED: 'forged' })).toThrow('GRANT_DENIED is a core code');
  });

  it('refuses a code that is not UPPER_SNAKE_CASE', () => {
    expect(() => defineErrorCodes({ 'note-too-long': 'x' })).toThrow('not UPPER_SNAKE_CASE');
  });

  it('accepts no undeclared code: a typo does not compile', () => {
    // @ts-expect-error -- not a core code, and not declared by any pack
    expect(new DomainError('STATE_KEY_INVALDI', 'typo').code).toBe('STATE_KEY_INVALDI');
  });
});
