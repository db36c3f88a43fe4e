import pg from 'pg';
import { GroupCommit } from './group-commit.js';

interface Write {
  key: string;
  value: number;
}

/** A statement runner the test answers by hand; by default each write's result is its value doubled. */
function manualRun() {
  const calls: { writes: Write[]; answer: (results?: number[]) => void; fail: (e: unknown) => void }[] = [];
  const run = (writes: Write[]) =>
    new Promise<number[]>((resolve, fail) =>
      calls.push({ writes, answer: (results) => resolve(results ?? writes.map((w) => w.value * 2)), fail }),
    );
  return { calls, run };
}
const tick = () => new Promise((r) => setImmediate(r));
/** An error answer of the server (what `pg` raises for an ErrorResponse). */
const sqlError = (code: string) =>
  Object.assign(new pg.DatabaseError(`sqlstate ${code}`, 0, 'error'), { code });
const w = (key: string, value: number): Write => ({ key, value });
const keyed = (run: (writes: Write[]) => Promise<number[]>) =>
  new GroupCommit(run, { keyOf: (x: Write) => x.key });

describe('GroupCommit', () => {
  it('sends a write at once when no statement is running, alone', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const a = group.submit(w('a', 1));
    expect(calls.map((c) => c.writes)).toEqual([[w('a', 1)]]);
    calls[0].answer();
    expect(await a).toBe(2);
  });

  it('sends the writes that arrive during a statement together in the next, each with its own result', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const first = group.submit(w('a', 1));
    const waiting = [group.submit(w('b', 2)), group.submit(w('c', 3)), group.submit(w('d', 4))];
    expect(calls).toHaveLength(1);
    calls[0].answer();
    await first;
    await tick();
    expect(calls.map((c) => c.writes.map((x) => x.key))).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1].answer([20, 30, 40]);
    expect(await Promise.all(waiting)).toEqual([20, 30, 40]);
  });

  it('orders a statement by key (replicas lock rows in the same order); results stay with their writes', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const first = group.submit(w('m', 0));
    const waiting = [w('z', 1), w('b', 2), w('q', 3)].map((x) => group.submit(x));
    calls[0].answer();
    await first;
    await tick();
    expect(calls[1].writes.map((x) => x.key)).toEqual(['b', 'q', 'z']);
    calls[1].answer();
    expect(await Promise.all(waiting)).toEqual([2, 4, 6]);
    expect(group.stats).toEqual({ groups: 2, statements: 2, writes: 4, largestGroup: 3, failures: 0 });
  });

  it('never puts two writes of one key in the same statement, and keeps their order', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const results = [w('a', 1), w('a', 2), w('b', 3), w('a', 4)].map((x) => group.submit(x));
    calls[0].answer();
    await tick();
    calls[1].answer();
    await tick();
    calls[2].answer();
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8]);
    expect(calls.map((c) => c.writes.map((x) => x.value))).toEqual([[1], [2, 3], [4]]);
  });

  it('isolates the write the database refused by bisection, so only the bad write fails', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const first = group.submit(w('a', 1));
    const settled = Promise.allSettled([w('b', 2), w('bad', 3), w('c', 4)].map((x) => group.submit(x)));
    calls[0].answer();
    await first;
    await tick();
    calls[1].fail(sqlError('23514')); // check_violation: the group changed nothing
    for (let i = 2; i < 5; i++) {
      await tick();
      if (calls[i].writes[0].key === 'bad') calls[i].fail(sqlError('23514'));
      else calls[i].answer();
    }
    expect(calls.slice(2).map((c) => c.writes.map((x) => x.key))).toEqual([['b'], ['bad'], ['c']]);
    const outcomes = await settled;
    expect(outcomes.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[0]).toMatchObject({ value: 4 });
    expect(outcomes[1]).toMatchObject({ reason: { code: '23514' } });
  });

  it('refuses a write whose half committed without sending it alone, when the refusal was for its data', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    void group.submit(w('x', 0));
    const settled = Promise.allSettled([group.submit(w('a', 1)), group.submit(w('bad', 2))]);
    calls[0].answer();
    await tick();
    calls[1].fail(sqlError('22P02'));
    await tick();
    calls[2].answer(); // ['a'] commits: 'bad' is the refused write
    const outcomes = await settled;
    expect(outcomes.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
    expect(outcomes[1]).toMatchObject({ reason: { code: '22P02' } });
    expect(calls.map((c) => c.writes.map((x) => x.key))).toEqual([['x'], ['a', 'bad'], ['a']]);
  });

  it('after a deadlock (class 40, no write at fault) sends the last suspect again; fails the whole group on a lost connection', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    void group.submit(w('x', 0));
    const deadlocked = [group.submit(w('a', 1)), group.submit(w('b', 2))];
    calls[0].answer();
    await tick();
    calls[1].fail(sqlError('40P01'));
    await tick();
    calls[2].answer();
    await tick();
    calls[3].answer();
    expect(await Promise.all(deadlocked)).toEqual([2, 4]);

    // The connection died mid-statement: it may have committed, so nothing is sent again.
    const lost = [group.submit(w('c', 3))];
    await tick();
    lost.push(group.submit(w('d', 4)), group.submit(w('e', 5)));
    calls[4].answer();
    await tick();
    calls[5].fail(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }));
    const settled = await Promise.allSettled(lost);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(calls).toHaveLength(6);
  });

  it('caps a statement at maxBatch writes; beyond one statement, starts more (maxInFlight) for full groups only', async () => {
    const { calls, run } = manualRun();
    const group = new GroupCommit(run, { maxInFlight: 2, maxBatch: 3 });
    const results = Array.from({ length: 8 }, (_x, i) => group.submit(w(`k${i}`, i)));
    expect(calls.map((c) => c.writes.length)).toEqual([1, 3]); // the first alone, then a full group
    expect(group.queued).toBe(4);
    calls[0].answer();
    await tick();
    expect(calls.map((c) => c.writes.length)).toEqual([1, 3, 3]); // a full group again
    calls[1].answer();
    await tick();
    expect(calls).toHaveLength(3); // one write waits: not a full group, and a statement is running
    calls[2].answer();
    await tick();
    calls[3].answer();
    expect(await Promise.all(results)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(calls.map((c) => c.writes.map((x) => x.value))).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
  });

  it('without keys, keeps arrival order and puts writes of one key together', async () => {
    const { calls, run } = manualRun();
    const group = new GroupCommit(run);
    const first = group.submit(w('m', 0));
    const waiting = [w('z', 1), w('b', 2), w('z', 3)].map((x) => group.submit(x));
    calls[0].answer();
    await first;
    await tick();
    expect(calls[1].writes).toEqual([w('z', 1), w('b', 2), w('z', 3)]);
    calls[1].answer();
    expect(await Promise.all(waiting)).toEqual([2, 4, 6]);
  });

  it('coalesces: writes of one event-loop turn share the first statement; a full group goes at once', async () => {
    const { calls, run } = manualRun();
    const group = new GroupCommit(run, { coalesce: true, maxBatch: 4 });
    const results = [1, 2, 3].map((i) => group.submit(w(`k${i}`, i)));
    expect(calls).toHaveLength(0);
    expect(group.queued).toBe(3);
    await tick();
    expect(calls.map((c) => c.writes.length)).toEqual([3]);
    calls[0].answer();
    expect(await Promise.all(results)).toEqual([2, 4, 6]);

    const full = [1, 2, 3, 4, 5].map((i) => group.submit(w(`f${i}`, i)));
    expect(calls.map((c) => c.writes.length)).toEqual([3, 4]);
    calls[1].answer();
    await tick();
    calls[2].answer();
    expect(await Promise.all(full)).toEqual([2, 4, 6, 8, 10]);
  });

  it('drains: sends every waiting write at once (up to maxInFlight statements), resolves when all are done', async () => {
    const { calls, run } = manualRun();
    const group = new GroupCommit(run, { coalesce: true, maxInFlight: 3, maxBatch: 2 });
    const results = [1, 2, 3, 4, 5].map((i) => group.submit(w(`k${i}`, i)));
    expect(calls.map((c) => c.writes.length)).toEqual([2, 2]); // full groups go at once
    let drained = false;
    const draining = group.drain().then(() => (drained = true));
    expect(calls.map((c) => c.writes.length)).toEqual([2, 2, 1]);
    expect({ queued: group.queued, inFlight: group.inFlight }).toEqual({ queued: 0, inFlight: 3 });
    calls[0].answer();
    calls[1].answer();
    await tick();
    expect(drained).toBe(false);
    calls[2].answer();
    await draining;
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8, 10]);
    expect(group.inFlight).toBe(0);
  });

  it('reports each group (size, time, whether its statement committed) and each set of writes failed together', async () => {
    const { calls, run } = manualRun();
    const groups: unknown[] = [];
    const failures: unknown[] = [];
    const group = new GroupCommit(run, {
      onGroup: (report) => groups.push(report),
      onFailure: (writes, error) => failures.push([writes, (error as Error).message]),
      failure: (error) => new Error(`mapped: ${(error as Error).message}`),
    });
    const ok = group.submit(w('a', 1));
    const lost = [group.submit(w('b', 2)), group.submit(w('c', 3))];
    calls[0].answer();
    await ok;
    await tick();
    calls[1].fail(sqlError('57P01')); // the server went away, answering: nothing changed
    for (const write of lost) await expect(write).rejects.toThrow('mapped: sqlstate 57P01');
    expect(groups).toEqual([
      { writes: 1, seconds: expect.any(Number), ok: true },
      { writes: 2, seconds: expect.any(Number), ok: false },
    ]);
    expect(failures).toEqual([[2, 'sqlstate 57P01']]);
    expect(group.stats).toEqual({ groups: 2, statements: 2, writes: 3, largestGroup: 2, failures: 1 });
  });

  it('refuses a runner that answers the wrong number of results', async () => {
    const { calls, run } = manualRun();
    const group = keyed(run);
    const a = group.submit(w('a', 1));
    calls[0].answer([]);
    await expect(a).rejects.toThrow('group commit: 0 results for 1 writes');
  });

  describe('bounded by the caller (issue #15 §5)', () => {
    it('withdraws a waiting write when its caller gives up: never sent, rejected with the reason', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const first = group.submit(w('a', 1));
      const caller = new AbortController();
      const sent: string[] = [];
      const withdrawn = group.submit(w('b', 2), { signal: caller.signal, onSent: () => sent.push('b') });
      const kept = group.submit(w('c', 3), { onSent: () => sent.push('c') });
      caller.abort(new Error('deadline'));
      await expect(withdrawn).rejects.toThrow('deadline');
      calls[0].answer();
      await first;
      await tick();
      expect(calls.map((c) => c.writes.map((x) => x.key))).toEqual([['a'], ['c']]);
      expect(sent).toEqual(['c']);
      calls[1].answer();
      expect(await kept).toBe(6);
    });

    it('answers OUTCOME_UNKNOWN at once when the caller gives up after its write was sent', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const caller = new AbortController();
      let sent = false;
      const write = group.submit(w('a', 1), { signal: caller.signal, onSent: () => (sent = true) });
      expect(sent).toBe(true); // synchronously, as the statement goes out
      caller.abort(new Error('deadline'));
      await expect(write).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
      calls[0].answer(); // it did commit, later: the caller was told it may have
      await tick();
      expect(group.stats).toMatchObject({ statements: 1, writes: 1 });
    });

    it('stops waiting at the deadline: a waiting write is withdrawn, a sent one answers OUTCOME_UNKNOWN', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const sleep = () => new Promise((r) => setTimeout(r, 30));
      const sent = group.submit(w('a', 1), { deadline: Date.now() + 10 });
      const waiting = group.submit(w('b', 2), { deadline: Date.now() + 10 });
      const kept = group.submit(w('c', 3), { deadline: Date.now() + 60_000 });
      await sleep();
      await expect(waiting).rejects.toThrow('the write waited past its deadline');
      await expect(sent).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
      calls[0].answer();
      await tick();
      expect(calls.map((c) => c.writes.map((x) => x.key))).toEqual([['a'], ['c']]);
      calls[1].answer();
      expect(await kept).toBe(6);
    });

    it('refuses at once, unsent, when the caller has already given up', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const caller = new AbortController();
      caller.abort(new Error('gone'));
      await expect(group.submit(w('a', 1), { signal: caller.signal })).rejects.toThrow('gone');
      expect(calls).toHaveLength(0);
    });

    it('tells unanswered statements (OUTCOME_UNKNOWN) from refused or unsent ones (their own error)', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const lost = group.submit(w('a', 1));
      calls[0].fail(
        Object.assign(new Error('The database did not answer within 1500 ms'), { code: 'ETIMEDOUT' }),
      );
      await expect(lost).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
      const refused = group.submit(w('b', 2));
      await tick();
      calls[1].fail(sqlError('57014')); // canceled at statement_timeout: rolled back
      await expect(refused).rejects.toMatchObject({ code: '57014' });
      const unsent = group.submit(w('c', 3));
      await tick();
      calls[2].fail(new Error('timeout exceeded when trying to connect'));
      await expect(unsent).rejects.toThrow('timeout exceeded when trying to connect');
    });

    it('does not send again, alone, the write of a caller that gave up during a refused group', async () => {
      const { calls, run } = manualRun();
      const group = keyed(run);
      const first = group.submit(w('x', 0));
      const caller = new AbortController();
      const gone = group.submit(w('a', 1), { signal: caller.signal });
      const stays = group.submit(w('b', 2));
      calls[0].answer();
      await first;
      await tick();
      caller.abort(new Error('deadline'));
      await expect(gone).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
      calls[1].fail(sqlError('40P01'));
      await tick();
      expect(calls.slice(2).map((c) => c.writes.map((x) => x.key))).toEqual([['b']]);
      calls[2].answer();
      expect(await stays).toBe(4);
    });
  });
});
