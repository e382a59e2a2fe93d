/**
 * Group commit for reads: keys asked for while the event loop is busy go to storage together, in
 * one statement, once the current I/O phase is over (setImmediate). Every caller is answered by a
 * statement that starts after its call, so it reads state at least as new as a query of its own
 * would (session-start.ts's listing rules rely on that). At most `maxBatch` keys per statement.
 */
export class ReadBatch<K, V> {
  private waiting = new Map<K, { resolve: (v: V) => void; reject: (err: unknown) => void }[]>();
  private scheduled = false;

  constructor(
    private readonly load: (keys: K[]) => Promise<Map<K, V>>,
    /** The answer for a key storage had nothing for, made per key (callers of one key share its answer). */
    private readonly missing: () => V,
    private readonly maxBatch = 500,
  ) {}

  get(key: K): Promise<V> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = new Map();
    const keys = [...all.keys()];
    for (let i = 0; i < keys.length; i += this.maxBatch) {
      const batch = keys.slice(i, i + this.maxBatch);
      this.load(batch).then(
        (found) => {
          for (const key of batch) for (const c of all.get(key)!) c.resolve(found.get(key) ?? this.missing());
        },
        (err: unknown) => {
          for (const key of batch) for (const c of all.get(key)!) c.reject(err);
        },
      );
    }
  }
}
