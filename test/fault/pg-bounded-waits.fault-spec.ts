import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import {
  canaryLines,
  counterCheck,
  counterValue,
  FaultService,
  figures,
  max,
  PgCluster,
  startLoad,
  startReadinessProbe,
  tally,
  unaudited,
  violated,
  waitFor,
  type LoadRecord,
} from './harness.js';

const TOOL_TIMEOUT_MS = 2000;
const FAULT_MS = 10_000;
/** Issue #15 §4: no call answers later than its budget + 1 s; readiness within 1 s (Kubernetes' probe timeout). */
const CALL_BOUND_MS = TOOL_TIMEOUT_MS + 1000;
const READY_BOUND_MS = 1000;

/**
 * Issue #15, fault tier: with TOOL_TIMEOUT_MS=2000, the audit table locked for 10 s (LOCK TABLE in a transaction
 * the test holds) and, separately, PostgreSQL frozen for 10 s (SIGSTOP to the postmaster and every backend: a
 * partition without reset). Under a mixed load (tools/call echo, counter.increment and state.set, tools/list, an
 * /admin read): every answer within 3 s, no success without its audit row (checked after recovery), readiness
 * within 1 s; and the counter invariant of §5.
 */
describe('fault: bounded waits on a stuck database (TOOL_TIMEOUT_MS=2000)', () => {
  let cluster: PgCluster;
  let service: FaultService;

  beforeAll(async () => {
    cluster = await PgCluster.start();
    service = await FaultService.start(cluster, {
      agent: 'stuck-db-agent',
      tools: ['echo', 'counter.increment', 'state.set'],
      env: { TOOL_TIMEOUT_MS: String(TOOL_TIMEOUT_MS) },
    });
  }, 300_000);

  afterAll(async () => {
    await cluster?.recover().catch(() => {});
    await service?.dispose().catch(() => {});
    await cluster?.dispose();
  });

  /** Runs the load, injects the fault for 10 s, releases it, and checks the bounds. */
  async function underFault(scenario: string, inject: () => Promise<() => Promise<void>>) {
    // A previous scenario must have recovered first (bounded).
    await waitFor(async () => (await service.ready(2000)).status === 200, 30_000, 200);
    const base = await counterValue(cluster, service);
    const probe = startReadinessProbe(service, 200);
    const load = startLoad(service, ['echo', 'counter', 'list', 'admin', 'state'], 6);
    await sleep(1000);
    const faultAt = Date.now();
    const release = await inject();
    await sleep(faultAt + FAULT_MS - Date.now());
    await release();
    const releasedAt = Date.now();
    await waitFor(() => probe.firstAfter(releasedAt, 200) !== undefined, 15_000);
    await sleep(1000);
    const records = await load.stop();
    const probes = await probe.stop();

    const slowest = (op: LoadRecord['op']) => max(records.filter((r) => r.op === op).map((r) => r.ms));
    const late = records.filter((r) => r.ms > CALL_BOUND_MS);
    const duringFault = probes.filter((p) => p.startedAt >= faultAt && p.startedAt < releasedAt);
    const readyMax = max(duringFault.map((p) => p.ms));
    // Successes that must be audited: tool calls and admin reads (tools/list leaves no row).
    const acknowledged = records.filter((r) => r.ok && r.op !== 'list');
    const audit = await unaudited(cluster, service, acknowledged);
    const counter = await counterCheck(cluster, service, records, base);
    figures(scenario, {
      calls: records.length,
      late: late.length,
      maxCallMs: max(records.map((r) => r.ms)),
      maxToolsCallMs: Math.max(slowest('echo'), slowest('counter'), slowest('state')),
      maxListMs: slowest('list'),
      maxAdminMs: slowest('admin'),
      maxReadyMs: readyMax,
      readyAnswers: tally(duringFault),
      acknowledged: acknowledged.length,
      unaudited: audit.missing.length,
      counter: counter.counter,
      counterAcknowledged: counter.acknowledged,
      unknown: counter.unknown,
      answers: tally(records),
    });
    return violated({
      'no crash': service.alive,
      'every call (tools/call, tools/list, /admin) answers within 3 s': late.length === 0,
      'readiness answers within 1 s': duringFault.length > 0 && readyMax <= READY_BOUND_MS,
      'no success without its audit row': audit.missing.length === 0,
      'acknowledged ≤ counter ≤ acknowledged + OUTCOME_UNKNOWN': counter.holds,
      'the canary is in no log line': canaryLines(service.output).length === 0,
    });
  }

  it('audit table locked 10 s: every call answers within its budget + 1 s, none unaudited', async () => {
    const violations = await underFault('audit-lock', async () => {
      const holder: pg.Client = await cluster.client(service.databaseUrl);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await holder.query('COMMIT');
        await holder.end();
      };
    });
    expect(violations).toEqual([]);
  });

  it('PostgreSQL frozen 10 s (SIGSTOP): every call answers within its budget + 1 s, none unaudited', async () => {
    const violations = await underFault('pg-freeze', async () => {
      const frozen = await cluster.freeze();
      figures('pg-freeze', { frozenProcesses: frozen });
      return () => cluster.thaw();
    });
    expect(violations).toEqual([]);
  });
});
