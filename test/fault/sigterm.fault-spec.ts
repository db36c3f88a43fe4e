import { setTimeout as sleep } from 'node:timers/promises';
import {
  auditedRequestIds,
  canaryLines,
  counterCheck,
  FaultService,
  figures,
  PgCluster,
  startLoad,
  startReadinessProbe,
  tally,
  unaudited,
  violated,
  within,
} from './harness.js';

/** Probes this long after the signal must already see the drain (the signal handler runs on the next tick). */
const AT_ONCE_MS = 250;

/**
 * Issue #15, fault tier: SIGTERM under a load of echo + counter.increment. Readiness turns 503 at once while the
 * listener still serves (SHUTDOWN_DRAIN_DELAY_MS), every call in flight at the signal finishes with its answer,
 * the successful tool-call audit rows are exactly the acknowledged calls, the counter invariant holds, and the
 * process exits 0.
 */
describe('fault: SIGTERM under load', () => {
  let cluster: PgCluster;
  let service: FaultService;

  beforeAll(async () => {
    cluster = await PgCluster.start();
    service = await FaultService.start(cluster, {
      agent: 'sigterm-agent',
      tools: ['echo', 'counter.increment'],
      env: { SHUTDOWN_DRAIN_DELAY_MS: '1500', SHUTDOWN_GRACE_MS: '20000' },
    });
  }, 300_000);

  afterAll(async () => {
    await cluster?.recover().catch(() => {});
    await service?.dispose().catch(() => {});
    await cluster?.dispose();
  });

  it('drains: readiness 503 at once, in-flight calls finish, audit rows == acknowledged, exit 0', async () => {
    const probe = startReadinessProbe(service, 50, 2000);
    const load = startLoad(service, ['echo', 'counter'], 8);
    await sleep(3000);
    const signalledAt = Date.now();
    const exitCode = await within(60_000, service.stop('SIGTERM'), 'exit after SIGTERM');
    const exitedAt = Date.now();
    const records = await load.stop();
    const probes = await probe.stop();

    const beforeSignal = records.filter((r) => r.startedAt < signalledAt);
    const unfinished = beforeSignal.filter((r) => !r.ok);
    const ready503 = probe.firstAfter(signalledAt, 503);
    const readyAfterSignal = probes.filter((p) => p.startedAt >= signalledAt + AT_ONCE_MS);
    const acknowledged = records.filter((r) => r.ok);
    const audit = await unaudited(cluster, service, acknowledged, 1000);
    const successRows = await auditedRequestIds(cluster, service, ['tool_call'], 'success');
    const acknowledgedIds = new Set(acknowledged.map((r) => r.requestId));
    const unacknowledgedRows = [...successRows.keys()].filter((id) => !acknowledgedIds.has(id));
    const counter = await counterCheck(cluster, service, records);
    const canary = canaryLines(service.output);
    figures('sigterm', {
      calls: records.length,
      beforeSignal: beforeSignal.length,
      inFlightAtSignal: beforeSignal.filter((r) => r.startedAt + r.ms > signalledAt).length,
      unfinished: unfinished.length,
      acknowledged: acknowledged.length,
      auditSuccessRows: successRows.size,
      unaudited: audit.missing.length,
      unacknowledgedRows: unacknowledgedRows.length,
      counter: counter.counter,
      counterAcknowledged: counter.acknowledged,
      unknown: counter.unknown,
      ready503: ready503 === undefined ? 'never' : `${ready503 / 1000}s`,
      readinessAfterSignal: tally(readyAfterSignal),
      exitCode: String(exitCode),
      exitMs: exitedAt - signalledAt,
      answers: tally(records),
    });

    expect(
      violated({
        'readiness 503 at once (no 200 from a probe sent after the signal)': readyAfterSignal.every(
          (p) => p.status !== 200,
        ),
        'a readiness 503 within 1 s of the signal': ready503 !== undefined && ready503 <= 1000,
        'every call sent before the signal finishes with success': unfinished.length === 0,
        'every acknowledged call has its audit row': audit.missing.length === 0,
        'no success row without an acknowledged call': unacknowledgedRows.length === 0,
        'acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN': counter.holds,
        'exit code 0': exitCode === 0,
        'the canary is in no log line': canary.length === 0,
      }),
    ).toEqual([]);
  });
});
