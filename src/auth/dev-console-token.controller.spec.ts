import { isLoopback } from './dev-console-token.controller.js';

describe('isLoopback (who may get a dev console token)', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
    'accepts %s',
    (address) => {
      expect(isLoopback(address)).toBe(true);
    },
  );

  it.each([
    undefined,
    '',
    '10.0.0.1',
    '192.168.1.127',
    '::2',
    '::ffff:10.0.0.1',
    'fe80::1',
    'localhost',
    '128.0.0.1',
  ])('refuses %s', (address) => {
    expect(isLoopback(address)).toBe(false);
  });
});
