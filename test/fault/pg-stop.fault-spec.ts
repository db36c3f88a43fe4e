import { setTimeout as sleep } from 'node:timers/promises';
import {
  canaryLines,
  counterCheck,
  FaultService,
  figures,
  hasStackTrace,
  operation,
  PgCluster,
  problemLines,
  startLoad,
  startReadinessProbe,
  tally,
  unaudited,
  violated,
  waitFor,
  type Answer,
} from './harness.js';

const OUTAGE_MS = 10_000;

/**
 * Issue #15, fault tier: PostgreSQL stopped (fast shutdown) for 10 s under a load of echo + counter.increment
 * (+ state.set). No crash; readiness 503 within 2 s of the stop and 200 within 2 s of the restart; every
 * acknowledged call has its audit row; acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN; the outage logs
 * ≤ 20 lines (warn and above), none with a stack trace; the canary (echo text, state.set values while the
 * database is down, and while it refuses writes) is in no log line.
 */
describe('fault: PostgreSQL outages under load', () => {
  let cluster: PgCluster;
  let service: FaultService;

  beforeAll(async () => {
    cluster = await PgCluster.start();
    service = await FaultService.start(cluster, {
      agent: 'pg-stop-agent',
      tools: ['echo', 'counter.increment', 'state.set'],
      // A bounded budget so calls caught by the outage answer within the scenario; breakers opened by the
      // outage (a dependency failure) let a probe through soon after it.
      env: { TOOL_TIMEOUT_MS: '5000', BREAKER_HALF_OPEN_AFTER_MS: '2000' },
    });
  }, 300_000);

  afterAll(async () => {
    await cluster?.recover().catch(() => {});
    await service?.dispose().catch(() => {});
    await cluster?.dispose();
  });

  it('survives, reports readiness promptly, audits every acknowledged call and keeps the counter honest', async () => {
    const probe = startReadinessProbe(service);
    // state.set (its value is the canary) in the mix, so some writes are in flight when the backends die.
    const load = startLoad(service, ['echo', 'counter', 'echo', 'state'], 8);
    await sleep(3000);

    const logMark = service.output.length;
    await cluster.stopServer();
    const downAt = Date.now();
    await sleep(1000);
    // A state write carrying the canary while the database is down: its failure must not log the value.
    const canaryWrites = await Promise.all([1, 2, 3].map(() => operation(service, 'state')));
    await sleep(downAt + OUTAGE_MS - Date.now());
    await cluster.startServer();
    const upAt = Date.now();
    await waitFor(() => probe.firstAfter(upAt, 200) !== undefined, 15_000);
    await sleep(2000); // load goes on after the recovery
    const outageLog = service.output.slice(logMark);
    const records = await load.stop();
    await probe.stop();

    const ready503 = probe.firstAfter(downAt, 503);
    const ready200 = probe.firstAfter(upAt, 200);
    const acknowledged = [...records, ...canaryWrites].filter((r) => r.ok);
    const audit = await unaudited(cluster, service, acknowledged);
    const counter = await counterCheck(cluster, service, records);
    const problems = problemLines(outageLog);
    const stacks = problems.filter(hasStackTrace);
    const canary = canaryLines(service.output);
    figures('pg-stop', {
      calls: records.length,
      acknowledged: acknowledged.length,
      audit: audit.audited,
      counter: counter.counter,
      counterAcknowledged: counter.acknowledged,
      unknown: counter.unknown,
      ready503: ready503 === undefined ? 'never' : `${ready503 / 1000}s`,
      ready200: ready200 === undefined ? 'never' : `${ready200 / 1000}s`,
      outageLogLines: problems.length,
      outageLogBytes: outageLog.length,
      stackTraces: stacks.length,
      canaryLines: canary.length,
      answers: tally(records),
      canaryWrites: tally(canaryWrites),
    });

    expect(
      violated({
        'no crash': service.alive,
        'readiness 503 within 2 s of the stop': ready503 !== undefined && ready503 <= 2000,
        'readiness 200 within 2 s after the restart': ready200 !== undefined && ready200 <= 2000,
        'every acknowledged call has its audit row': audit.missing.length === 0,
        'acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN': counter.holds,
        'the outage writes ≤ 20 log lines': problems.length <= 20,
        'no stack trace in the outage log': stacks.length === 0,
        'the canary is in no log line': canary.length === 0,
      }),
    ).toEqual([]);
  });

  it('a state.set the database refuses (read-only, as after a failover to a replica) logs no canary', async () => {
    const database = new URL(service.databaseUrl).pathname.slice(1);
    const admin = await cluster.client();
    const reconnectAll = () =>
      admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    const logMark = service.output.length;
    const answers: Answer[] = [];
    try {
      await admin.query(`ALTER DATABASE ${database} SET default_transaction_read_only = on`);
      await reconnectAll();
      // The pool reconnects (read-only now); reads (token revocation, grant) pass, the write fails in the database.
      for (let i = 0; i < 10; i++) {
        answers.push(await operation(service, 'state'));
        await sleep(200);
      }
    } finally {
      await admin.query(`ALTER DATABASE ${database} RESET default_transaction_read_only`);
      await reconnectAll();
      await admin.end();
    }
    const recovered = await waitFor(async () => (await operation(service, 'state')).ok, 15_000, 200);
    const log = service.output.slice(logMark);
    const canary = canaryLines(service.output);
    figures('db-read-only', {
      answers: tally(answers),
      recoveredMs: recovered ?? 'never',
      logLines: problemLines(log).length,
      stackTraces: problemLines(log).filter(hasStackTrace).length,
      canaryLines: canary.length,
    });

    expect(
      violated({
        'no state.set succeeds on a read-only database': answers.every((a) => !a.ok),
        'a state.set reached the tool (a tool error, not an auth refusal)': answers.some(
          (a) => a.status === 200 && a.code !== undefined,
        ),
        'the service recovers once writes are accepted again': recovered !== undefined,
        'a read-only database is an outage: no stack traces': problemLines(log).every(
          (l) => !hasStackTrace(l),
        ),
        'the canary is in no log line': canary.length === 0,
      }),
    ).toEqual([]);
  });
});
