import { AppError } from '../../protocol/errors.js';

// The line in front of password hashing (sign-in, sign-up, password change: docs/protocol.md §2).
// Hashing is the costly step (scrypt, a few at a time), so its line is where a few addresses,
// each within its own attempt limits, could make everyone else wait. Three rules keep it fair:
// - bounded: each key (an address, an account) holds at most `perKey` places, the line at most
//   `maxWaiting`; past that a request is refused at once with the expected wait;
// - rounds: a request is its address's 1st, 2nd… place; every address's 1st places go before any
//   2nd place, and so on, so addresses that keep the line busy take turns among themselves;
// - within a round, the address holding the fewest places goes first (then the one served longest
//   ago), so a newcomer, holding one, waits only for the checks already running, however many
//   addresses each keep their places full;
// - when the line is full, a newcomer that would go before the last one waiting takes its place
//   (that one is refused with the wait).

export interface FairLineSettings {
  /** Jobs running at once. */
  concurrency: number;
  /** Places (waiting or running) one key may hold. */
  perKey: number;
  /** Jobs waiting, all keys together. */
  maxWaiting: number;
  /** Milliseconds, for the expected wait; injectable for tests. */
  now?: () => number;
}

/** What one job is expected to take before any has been timed. */
const FIRST_ESTIMATE_MS = 500;
/** Keys whose last turn is remembered; beyond that the oldest are forgotten (as if never served). */
const REMEMBERED_KEYS = 10_000;

export interface Place {
  /** Waits for a turn, runs `job`, and gives the place back. Refused (`rate_limited`) if displaced meanwhile. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Gives the place back without running. */
  cancel(): void;
}

interface Waiter {
  keys: readonly string[];
  /** Which place of its address this is (1 for the first): its round. */
  round: number;
  arrival: number;
  start: () => void;
  refuse: (err: AppError) => void;
}

export class FairLine {
  private running = 0;
  /** Places taken and not given back: waiting, running, or between (being admitted by the caller). */
  private taken = 0;
  private readonly waiting = new Set<Waiter>();
  /** Places held per key: taken, waiting or running. */
  private readonly held = new Map<string, number>();
  /** Per key, the serial of its last turn; in the order of those turns (oldest first). */
  private readonly lastTurn = new Map<string, number>();
  private serial = 0;
  private averageMs = FIRST_ESTIMATE_MS;
  private readonly now: () => number;

  constructor(private readonly settings: FairLineSettings) {
    this.now = settings.now ?? (() => performance.now());
  }

  /**
   * Takes a place for `keys` (the first one orders the line; all are capped), or throws
   * `rate_limited` with the expected wait: decided at once, before any other work.
   */
  take(keys: readonly string[]): Place {
    if (keys.some((key) => (this.held.get(key) ?? 0) >= this.settings.perKey)) throw this.refusal();
    if (this.taken - this.running >= this.settings.maxWaiting && !this.displaceFor(keys[0]!)) throw this.refusal();
    this.taken++;
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    const round = this.held.get(keys[0]!)!;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      this.taken--;
      for (const key of keys) {
        const n = (this.held.get(key) ?? 1) - 1;
        if (n > 0) this.held.set(key, n);
        else this.held.delete(key);
      }
    };
    return {
      run: async <T>(job: () => Promise<T>): Promise<T> => {
        try {
          await new Promise<void>((start, refuse) => {
            this.waiting.add({ keys, round, arrival: this.serial++, start, refuse });
            this.pump();
          });
        } catch (err) {
          release();
          throw err;
        }
        const started = this.now();
        try {
          return await job();
        } finally {
          this.averageMs += (Math.max(1, this.now() - started) - this.averageMs) / 8;
          this.running--;
          release();
          this.pump();
        }
      },
      cancel: release,
    };
  }

  /** The wait a refused request is told: the line ahead of it, at the pace jobs have been taking. */
  expectedWaitMs(): number {
    const rounds = Math.ceil((this.waiting.size + 1) / this.settings.concurrency);
    return Math.max(1000, Math.ceil(rounds * this.averageMs));
  }

  /** Jobs waiting and running, for tests and metrics. */
  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.size, running: this.running };
  }

  private refusal(): AppError {
    const retryAfterMs = this.expectedWaitMs();
    return new AppError('rate_limited', 'too many requests: wait retryAfterMs', { retryAfterMs });
  }

  /** Serial of a key's last turn; -1 for one never served (or forgotten), which goes first. */
  private turnOf(key: string): number {
    return this.lastTurn.get(key) ?? -1;
  }

  /** True when the last one waiting, behind a newcomer for `key`, was refused to make room. */
  private displaceFor(key: string): boolean {
    let worst: Waiter | undefined;
    for (const waiter of this.waiting) if (!worst || this.after(waiter, worst)) worst = waiter;
    const held = (this.held.get(key) ?? 0) + 1;
    const newcomer: Waiter = { keys: [key], round: held, arrival: Number.POSITIVE_INFINITY, start: () => {}, refuse: () => {} };
    if (!worst || !this.after(worst, newcomer, held)) return false;
    this.waiting.delete(worst);
    worst.refuse(this.refusal());
    return true;
  }

  /** True when `a` should be served after `b` (`bHeld`: places b's address holds, if not yet counted). */
  private after(a: Waiter, b: Waiter, bHeld = this.held.get(b.keys[0]!) ?? 0): boolean {
    if (a.round !== b.round) return a.round > b.round;
    const aHeld = this.held.get(a.keys[0]!) ?? 0;
    if (aHeld !== bHeld) return aHeld > bHeld;
    const [ta, tb] = [this.turnOf(a.keys[0]!), this.turnOf(b.keys[0]!)];
    return ta !== tb ? ta > tb : a.arrival > b.arrival;
  }

  private pump(): void {
    while (this.running < this.settings.concurrency && this.waiting.size > 0) {
      let next: Waiter | undefined;
      for (const waiter of this.waiting) if (!next || this.after(next, waiter)) next = waiter;
      this.waiting.delete(next!);
      this.running++;
      const key = next!.keys[0]!;
      this.lastTurn.delete(key);
      this.lastTurn.set(key, this.serial++);
      if (this.lastTurn.size > REMEMBERED_KEYS) this.lastTurn.delete(this.lastTurn.keys().next().value!);
      next!.start();
    }
  }
}
