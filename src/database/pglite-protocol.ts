import type { PGlite } from '@electric-sql/pglite';

/** Frontend messages that end an extended-protocol batch (Sync) or are a batch of their own (simple Query). */
const BATCH_END: ReadonlySet<number> = new Set([0x53 /* 'S' Sync */, 0x51 /* 'Q' Query */]);

/**
 * `@electric-sql/pglite-socket` (0.2.x) multiplexes every connection onto the one PGlite instance message by
 * message, and pins the queue to one connection only while PGlite is inside a transaction. Outside a transaction
 * the messages of two extended-protocol queries (`pg` sends Parse, Bind, Describe, Execute, Sync for every
 * parameterised query) interleave: connection B's Parse replaces A's unnamed statement before A's Bind, so A gets
 * B's statement run with A's parameters, an empty result, or "portal does not exist" — silently wrong results.
 *
 * The queue asks `db.isInTransaction()` to decide whether to pin. This view of the database answers "yes" also
 * while a connection's batch is open (from its first message to its Sync), so each batch runs uninterrupted.
 */
export function serialiseExtendedProtocol(db: PGlite): PGlite {
  let batchOpen = false;
  return new Proxy(db, {
    get(target, property) {
      if (property === 'isInTransaction') return () => batchOpen || target.isInTransaction();
      if (property === 'execProtocolRawStream') {
        return (message: Uint8Array, ...rest: unknown[]) => {
          batchOpen = message.length > 0 && !BATCH_END.has(message[0]);
          return (target.execProtocolRawStream as (m: Uint8Array, ...r: unknown[]) => unknown)(
            message,
            ...rest,
          );
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
