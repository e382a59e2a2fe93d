import type { Sql } from 'postgres';

/**
 * postgres.js prepares a statement only when asked, and drizzle asks only for queries built with
 * `.prepare(name)`. Every other statement with parameters cost two round trips (parse and
 * describe, then bind and execute) and a parse in PostgreSQL each time, a message's commit and
 * each step of its notifications included.
 *
 * `preparingOften` hands drizzle a client that prepares, on each connection that runs it, a
 * statement text once the process has run it `after` times: one round trip and no parse from then
 * on. At most `max` texts are ever prepared, since texts are not a closed set (drizzle writes a
 * list of n values as n placeholders) and PostgreSQL keeps each prepared statement per connection;
 * past that, statements run as before. Statements without parameters keep the simple protocol
 * (one round trip already). The pool's `plan_cache_mode=force_custom_plan` (connect.ts) keeps the
 * plans they had. Hand-written because no library offers it: postgres.js's switch is per query,
 * and drizzle sets it per query from `.prepare()`.
 */
export interface PreparingLimits {
  /** Runs of a text, by this process, before it is prepared. */
  after: number;
  /** Texts prepared at most, per process (and so per connection). */
  max: number;
}

export const DEFAULT_PREPARING: PreparingLimits = { after: 3, max: 300 };

/** Texts seen fewer than `after` times are forgotten past this many (the count starts again). */
const MAX_COUNTED = 10_000;

export function preparingOften(client: Sql, limits: PreparingLimits = DEFAULT_PREPARING): Sql {
  const prepared = new Set<string>();
  const runs = new Map<string, number>();

  const shouldPrepare = (text: string): boolean => {
    if (prepared.has(text)) return true;
    if (prepared.size >= limits.max) return false;
    const count = (runs.get(text) ?? 0) + 1;
    if (count < limits.after) {
      if (runs.size >= MAX_COUNTED) runs.clear();
      runs.set(text, count);
      return false;
    }
    runs.delete(text);
    prepared.add(text);
    return true;
  };

  // The transaction and savepoint handles drizzle gets are postgres.js's own: wrapped alike.
  const wrap = (sql: Sql): Sql =>
    new Proxy(sql, {
      get(target, property, receiver) {
        if (property === 'unsafe') {
          return (text: string, params?: unknown[], options: { prepare?: boolean } = {}) =>
            target.unsafe(text, params as never, {
              ...options,
              prepare: options.prepare === true || (params !== undefined && params.length > 0 && shouldPrepare(text)),
            });
        }
        if (property === 'begin' || property === 'savepoint') {
          return (...args: unknown[]) => {
            const callback = args.pop() as (sql: Sql) => unknown;
            const method = Reflect.get(target, property) as (...a: unknown[]) => unknown;
            return Reflect.apply(method, target, [...args, (inner: Sql) => callback(wrap(inner))]);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
  return wrap(client);
}
