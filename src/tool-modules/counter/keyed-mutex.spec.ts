import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from './keyed-mutex.js';

const never = new AbortController().signal;

describe('KeyedMutex', () => {
  it('runs the tasks of one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, ms: number) => async () => {
      running++;
      expect(running).toBe(1);
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([
      mutex.run('k', never, task('a', 20)),
      mutex.run('k', never, task('b', 1)),
      mutex.run('k', never, task('c', 5)),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(mutex.size).toBe(0);
  });

  it('runs different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    let running = 0;
    let peak = 0;
    const task = async () => {
      peak = Math.max(peak, ++running);
      await sleep(10);
      running--;
    };
    await Promise.all(['a', 'b', 'c'].map((key) => mutex.run(key, never, task)));
    expect(peak).toBe(3);
  });

  it('keeps the queue going after a task fails', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('k', never, () => Promise.reject(new Error('boom')));
    const next = mutex.run('k', never, async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('lets an aborted waiter leave without running, and keeps the order of the rest', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const leaving = new AbortController();
    const first = mutex.run('k', never, async () => {
      await sleep(30);
      log.push('first');
    });
    const aborted = mutex.run('k', leaving.signal, async () => {
      log.push('aborted one ran');
    });
    const third = mutex.run('k', never, async () => {
      log.push('third');
    });
    leaving.abort(new Error('timed out'));
    await expect(aborted).rejects.toThrow('timed out');
    expect(log).toEqual([]); // the first task still holds the key
    await Promise.all([first, third]);
    expect(log).toEqual(['first', 'third']);
  });

  it('refuses at once when the signal has already aborted', async () => {
    const mutex = new KeyedMutex();
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    let ran = false;
    await expect(
      mutex.run('k', controller.signal, async () => {
        ran = true;
      }),
    ).rejects.toThrow('gone');
    expect(ran).toBe(false);
    expect(mutex.size).toBe(0);
  });
});
