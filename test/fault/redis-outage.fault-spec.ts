import { setTimeout as sleep } from 'node:timers/promises';
import {
  canaryLines,
  FaultService,
  figures,
  PgCluster,
  RedisServer,
  startLoad,
  tally,
  violated,
  waitFor,
  type Answer,
} from './harness.js';

const OUTAGE_MS = 8000;
const RECONNECT_BOUND_MS = 2000;
/** How long after the kill the service may still be answering from before it noticed (the socket close is instant). */
const NOTICE_MS = 500;

/**
 * Issue #15, fault tier: Redis (the rate limiter's store) killed for 8 s under load, one service per policy on a
 * Redis of its own. RATE_LIMIT_REDIS_FAILURE=open: calls succeed throughout. `closed`: calls get 503
 * RATE_LIMIT_UNAVAILABLE with Retry-After and a JSON-RPC body. Both reconnect within 2 s after Redis is back,
 * without a restart of the service (open: its counters reappear in Redis; closed: calls succeed again).
 */
describe('fault: Redis killed 8 s under load', () => {
  let cluster: PgCluster;
  const redis: Partial<Record<'open' | 'closed', RedisServer>> = {};
  const services: Partial<Record<'open' | 'closed', FaultService>> = {};

  beforeAll(async () => {
    cluster = await PgCluster.start();
    for (const policy of ['open', 'closed'] as const) {
      redis[policy] = await RedisServer.start();
      services[policy] = await FaultService.start(cluster, {
        agent: `redis-${policy}-agent`,
        tools: ['echo'],
        env: { REDIS_URL: redis[policy].url, RATE_LIMIT_REDIS_FAILURE: policy },
      });
    }
  }, 300_000);

  afterAll(async () => {
    await cluster?.recover().catch(() => {});
    for (const service of Object.values(services)) await service.dispose().catch(() => {});
    for (const server of Object.values(redis)) await server.dispose().catch(() => {});
    await cluster?.dispose();
  });

  it('open lets calls through, closed answers 503 with Retry-After, and both reconnect within 2 s', async () => {
    const open = services.open!;
    const closed = services.closed!;
    const pids = [open.server.pid, closed.server.pid];
    const loads = [startLoad(open, ['echo'], 3), startLoad(closed, ['echo'], 3)];
    await sleep(2000);
    const keysBefore = await redis.open!.dbsize();

    await Promise.all([redis.open!.kill(), redis.closed!.kill()]);
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);
    // The outage ends when the restart begins: Redis may answer before restart() has returned.
    const restartingAt = Date.now();
    await Promise.all([redis.open!.restart(), redis.closed!.restart()]);
    const upAt = Date.now();
    // Open: the service's counters reappear in the new (empty) Redis once it has reconnected.
    const openReconnect = await waitFor(async () => (await redis.open!.dbsize()) > 0, 10_000, 100);
    // Closed: calls succeed again.
    const closedReconnect = await waitFor(
      () => loads[1].records.some((r) => r.ok && r.startedAt >= upAt),
      10_000,
      50,
    );
    await sleep(1000);
    const [openRecords, closedRecords] = await Promise.all(loads.map((l) => l.stop()));

    const inOutage = (r: Answer) => r.startedAt >= killedAt + NOTICE_MS && r.startedAt + r.ms <= restartingAt;
    const closedOutage = closedRecords.filter(inOutage);
    const refusedWell = (r: Answer) =>
      r.status === 503 &&
      r.code === 'RATE_LIMIT_UNAVAILABLE' &&
      !!r.retryAfter &&
      (r.body as { jsonrpc?: string; error?: unknown }).jsonrpc === '2.0' &&
      (r.body as { error?: unknown }).error !== undefined;
    const firstClosedOk = closedRecords.find((r) => r.ok && r.startedAt >= upAt);
    const closedReconnectMs = firstClosedOk && firstClosedOk.startedAt + firstClosedOk.ms - upAt;
    const canary = [...canaryLines(open.output), ...canaryLines(closed.output)];
    figures('redis-open', {
      calls: openRecords.length,
      duringOutage: openRecords.filter(inOutage).length,
      answers: tally(openRecords),
      keysBefore,
      reconnect: openReconnect === undefined ? 'never' : `${openReconnect / 1000}s`,
    });
    figures('redis-closed', {
      calls: closedRecords.length,
      duringOutage: closedOutage.length,
      outageAnswers: tally(closedOutage),
      answers: tally(closedRecords),
      retryAfter: closedOutage.find((r) => r.status === 503)?.retryAfter ?? 'none',
      reconnect: closedReconnectMs === undefined ? 'never' : `${closedReconnectMs / 1000}s`,
      waitedMs: closedReconnect ?? 'never',
    });

    expect(
      violated({
        'no restart of either service': open.alive && closed.alive && pids[0] === open.server.pid,
        'open: every call succeeds': openRecords.length > 0 && openRecords.every((r) => r.ok),
        'closed: every call during the outage is 503 RATE_LIMIT_UNAVAILABLE + Retry-After + JSON-RPC body':
          closedOutage.length > 0 && closedOutage.every(refusedWell),
        'closed: no other failure': closedRecords.every((r) => r.ok || refusedWell(r)),
        'open: reconnects within 2 s of the restart':
          openReconnect !== undefined && openReconnect <= RECONNECT_BOUND_MS,
        'closed: reconnects within 2 s of the restart':
          closedReconnectMs !== undefined && closedReconnectMs <= RECONNECT_BOUND_MS,
        'the canary is in no log line': canary.length === 0,
      }),
    ).toEqual([]);
  });
});
