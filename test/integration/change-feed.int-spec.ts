import { jest } from '@jest/globals';
import type { ServerEvent } from '@modelcontextprotocol/server';
import pg from 'pg';
import { CHANGE_FEED_CHANNEL, type ChangeFeed } from '../../src/tools/change-feed.service.js';
import { changeFeed, principal, README_URI, until } from '../utils/change-feed.js';
import { createTestDatabase, postgresUrl } from '../utils/database.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long enough for a duplicate (or a leak) to show up, if there were one. */
const SETTLE_MS = 400;

/**
 * Two replicas' ChangeFeeds on one PostgreSQL database of their own (LISTEN/NOTIFY needs a real server, whichever
 * database the rest of the suite runs on): what one publishes, the other delivers once, to whom may see it.
 */
describe('ChangeFeed across replicas (PostgreSQL LISTEN/NOTIFY)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: pg.Pool;
  let a: ChangeFeed;
  let b: ChangeFeed;
  let lookupsOnB: string[];
  const grants = new Set(['reader resource:docs.readme']);

  beforeAll(async () => {
    database = await createTestDatabase(postgresUrl);
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    a = changeFeed({ url: database.url, pool, grants }).feed;
    const onB = changeFeed({ url: database.url, pool, grants });
    b = onB.feed;
    lookupsOnB = onB.lookups;
    await Promise.all([a.onApplicationBootstrap(), b.onApplicationBootstrap()]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([a?.onApplicationShutdown(), b?.onApplicationShutdown()]);
    await pool?.end();
    await database?.drop();
  });

  /** Everything `bus` delivers from now on. */
  function record(bus: { subscribe(listener: (e: ServerEvent) => void): () => void }) {
    const events: ServerEvent[] = [];
    const stop = bus.subscribe((e) => void events.push(e));
    return { events, stop };
  }

  it('delivers an event published on one replica to the other once, and to its own listeners once', async () => {
    const here = record(a);
    const there = record(b);
    try {
      await a.send({ kind: 'tools_list_changed' });
      expect(here.events).toEqual([{ kind: 'tools_list_changed' }]); // at once, synchronously
      await until(() => there.events.length > 0);
      await sleep(SETTLE_MS);
      expect(there.events).toEqual([{ kind: 'tools_list_changed' }]);
      expect(here.events).toHaveLength(1); // no echo through the database
    } finally {
      here.stop();
      there.stop();
    }
  });

  it('tells a listening agent only what it may see: resource updates it may read, its own grant changes', async () => {
    const readerScopes = ['resource:docs.readme'];
    const reader = record(b.agentBus(principal('reader', readerScopes)));
    const readerAgain = record(b.agentBus(principal('reader', readerScopes))); // a second stream of the agent
    const stranger = record(b.agentBus(principal('stranger', readerScopes))); // the scope, but no grant
    const unscoped = record(b.agentBus(principal('reader', []))); // the grant, but a token without the scope
    lookupsOnB.length = 0;
    try {
      await a.send({ kind: 'resource_updated', uri: README_URI });
      await a.send({ kind: 'resource_updated', uri: 'docs://nothing-here' });
      await a.grantChanged('reader', 'prompt:greeting');
      await a.send({ kind: 'resources_list_changed' });
      await until(() => reader.events.length >= 3 && stranger.events.length >= 1);
      await sleep(SETTLE_MS);

      const kinds = (events: ServerEvent[]) => events.map((e) => e.kind).sort();
      expect(kinds(reader.events)).toEqual([
        'prompts_list_changed',
        'resource_updated',
        'resources_list_changed',
      ]);
      expect(reader.events).toContainEqual({ kind: 'resource_updated', uri: README_URI });
      expect(kinds(readerAgain.events)).toEqual(kinds(reader.events));
      expect(stranger.events).toEqual([{ kind: 'resources_list_changed' }]);
      expect(kinds(unscoped.events)).toEqual(['prompts_list_changed', 'resources_list_changed']);
      // One grant lookup per agent for the update (not per stream); none for an unknown URI or a missing scope.
      expect(lookupsOnB.sort()).toEqual(['reader resource:docs.readme', 'stranger resource:docs.readme']);
    } finally {
      for (const r of [reader, readerAgain, stranger, unscoped]) r.stop();
    }
  });

  it('listens again after its database connection is cut', async () => {
    const there = record(b);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ cut: boolean }>(
        `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'LISTEN ${CHANGE_FEED_CHANNEL}'`,
      );
      expect(rows).toHaveLength(2); // one listener per replica
      // Events sent while a listener reconnects are lost (best effort); within a few seconds they arrive again.
      for (let i = 0; i < 50 && there.events.length === 0; i++) {
        await a.send({ kind: 'prompts_list_changed' });
        await sleep(200);
      }
      expect(there.events.length).toBeGreaterThan(0);
    } finally {
      there.stop();
      await admin.end();
    }
  }, 30_000);
});

/** Without PostgreSQL to share through: what stays on the replica, and what never reaches the caller. */
describe('ChangeFeed on one replica', () => {
  const refusedSql = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  };

  it('delivers locally and sends no NOTIFY on the embedded database', async () => {
    const sql = jest.fn(refusedSql);
    const { feed } = changeFeed({ sql });
    const events: ServerEvent[] = [];
    feed.subscribe((e) => void events.push(e));
    feed.toolsChanged();
    await feed.send({ kind: 'resource_updated', uri: README_URI });
    expect(events).toEqual([{ kind: 'tools_list_changed' }, { kind: 'resource_updated', uri: README_URI }]);
    expect(sql).not.toHaveBeenCalled();
  });

  it('never throws when the NOTIFY fails, still delivers locally, and logs the outage once per interval', async () => {
    const { feed, logger } = changeFeed({ url: 'postgresql://nowhere/db', sql: refusedSql });
    const events: ServerEvent[] = [];
    feed.subscribe((e) => void events.push(e));
    await expect(feed.send({ kind: 'tools_list_changed' })).resolves.toBeUndefined();
    await feed.send({ kind: 'tools_list_changed' });
    expect(() => feed.promptsChanged()).not.toThrow();
    expect(events).toHaveLength(3);
    expect(logger.warn).toHaveBeenCalledTimes(1); // the outage, once per interval
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('keeps a payload NOTIFY would refuse on this replica', async () => {
    const sql = jest.fn(refusedSql);
    const { feed, logger } = changeFeed({ url: 'postgresql://nowhere/db', sql });
    const events: ServerEvent[] = [];
    feed.subscribe((e) => void events.push(e));
    const uri = `docs://${'x'.repeat(8000)}`;
    await feed.send({ kind: 'resource_updated', uri });
    expect(events).toEqual([{ kind: 'resource_updated', uri }]);
    expect(sql).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'resource_updated' }),
      expect.any(String),
    );
  });

  it('stops telling an agent anything once its token has expired', async () => {
    const grants = new Set(['reader resource:docs.readme']);
    const { feed } = changeFeed({ grants });
    const live = principal('reader', ['resource:docs.readme'], Date.now() + 60_000);
    const expired = principal('reader', ['resource:docs.readme'], Date.now() - 1);
    const heard: string[] = [];
    feed.agentBus(live).subscribe((e) => void heard.push(`live ${e.kind}`));
    feed.agentBus(expired).subscribe((e) => void heard.push(`expired ${e.kind}`));
    await feed.send({ kind: 'resource_updated', uri: README_URI });
    feed.toolsChanged();
    await until(() => heard.length >= 2);
    await sleep(50);
    expect(heard.sort()).toEqual(['live resource_updated', 'live tools_list_changed']);
  });

  it('skips resource updates outside the stream’s subscriptions without a grant lookup', async () => {
    const { feed, lookups } = changeFeed({ grants: new Set(['reader resource:docs.readme']) });
    const heard: ServerEvent[] = [];
    feed
      .agentBus(principal('reader', ['resource:docs.readme']), ['docs://other'])
      .subscribe((e) => void heard.push(e));
    await feed.send({ kind: 'resource_updated', uri: README_URI });
    await sleep(50);
    expect(heard).toEqual([]);
    expect(lookups).toEqual([]);
  });

  it('keeps delivering to the others when a listener throws, and not after unsubscribing', async () => {
    const { feed, logger } = changeFeed({});
    const heard: ServerEvent[] = [];
    feed.subscribe(() => {
      throw new Error('bad listener');
    });
    const stop = feed.subscribe((e) => void heard.push(e));
    feed.toolsChanged();
    stop();
    stop(); // idempotent
    feed.toolsChanged();
    expect(heard).toEqual([{ kind: 'tools_list_changed' }]);
    expect(logger.error).toHaveBeenCalledTimes(2);
  });
});
