// Time as modules see it: the wall clock in production, a clock a test moves by hand in tests, so
// expiry, reminders, tallies, presence and token timers are checked without waiting for real time.

/** A timer a Clock started. Cancelling one that already fired does nothing. */
export interface Timer {
  cancel(): void;
  /** Lets the process exit while this timer is pending (what Node's `unref` does). */
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `run` once, `ms` from now. */
  setTimeout(run: () => void, ms: number): Timer;
  /** Runs `run` every `ms` until cancelled. */
  setInterval(run: () => void, ms: number): Timer;
}

/** Node's timer wrapped as a Timer. */
function nodeTimer(handle: NodeJS.Timeout, clear: (handle: NodeJS.Timeout) => void): Timer {
  const timer: Timer = {
    cancel: () => clear(handle),
    unref: () => {
      handle.unref();
      return timer;
    },
  };
  return timer;
}

/** The wall clock and Node's timers: the default everywhere. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => nodeTimer(setTimeout(run, ms), clearTimeout),
  setInterval: (run, ms) => nodeTimer(setInterval(run, ms), clearInterval),
};

interface Pending {
  at: number;
  /** Set for an interval: it is scheduled again this far after it fires. */
  everyMs: number | undefined;
  run: () => void;
  /** Start order: timers due at the same time fire in the order they were set. */
  order: number;
}

/**
 * A clock that moves only when told (tests). `advance` fires every timer that falls due, in order,
 * each with `now()` at its due time; `advanceAsync` also lets promises settle after each one.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly pending = new Set<Pending>();
  private started = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): Timer {
    return this.add(run, ms, undefined);
  }

  setInterval(run: () => void, ms: number): Timer {
    return this.add(run, ms, Math.max(1, ms));
  }

  /** Timers set and not yet fired or cancelled. */
  get timerCount(): number {
    return this.pending.size;
  }

  /** Moves time `ms` forward, firing the timers that fall due on the way. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (let next = this.nextDue(until); next; next = this.nextDue(until)) this.fire(next);
    this.time = until;
  }

  /** As `advance`, letting promise chains and I/O callbacks run after each timer (for async code under test). */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.time + ms;
    await settle();
    for (let next = this.nextDue(until); next; next = this.nextDue(until)) {
      this.fire(next);
      await settle();
    }
    this.time = until;
  }

  private add(run: () => void, ms: number, everyMs: number | undefined): Timer {
    const entry: Pending = { at: this.time + Math.max(0, ms), everyMs, run, order: this.started++ };
    this.pending.add(entry);
    const timer: Timer = { cancel: () => void this.pending.delete(entry), unref: () => timer };
    return timer;
  }

  private nextDue(until: number): Pending | undefined {
    let next: Pending | undefined;
    for (const p of this.pending) {
      if (p.at <= until && (!next || p.at < next.at || (p.at === next.at && p.order < next.order))) next = p;
    }
    return next;
  }

  private fire(entry: Pending): void {
    this.time = Math.max(this.time, entry.at);
    if (entry.everyMs === undefined) this.pending.delete(entry);
    else {
      entry.at += entry.everyMs;
      entry.order = this.started++;
    }
    entry.run();
  }
}

/** One turn of the event loop: pending promise callbacks run first. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
