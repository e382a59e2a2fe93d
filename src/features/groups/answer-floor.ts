/** Of the recent such answers' work, the share a floor covers: a few slow ones (a pause, a burst) do not hold every answer. */
const COVERED = 0.9;
/** Work times remembered: the newest ones within the window. */
const REMEMBERED = 256;

/**
 * Holds answers whose time must not tell which of several paths the server took: an add answered
 * `invited` for an unknown user, a user who blocked the adder, a user who does not let them add
 * (docs/protocol.md §8 "Privacy and safety"). Those paths run the same statements (consent.ts);
 * what is left (a row written or not, a frame published or not, a join request and its admins'
 * frames) is hidden here: each such answer leaves no earlier than `floorMs` after its request
 * began, nor earlier than 90 % of such answers' work took within the last window, so under load
 * every path's answer rises together. A timer, never CPU; past `capMs` the answer goes as it is.
 */
export class AnswerFloor {
  /** Work times of recent answers, oldest first. */
  private readonly recent: { at: number; took: number }[] = [];

  constructor(
    private readonly floorMs: number,
    private readonly windowMs = 30_000,
    private readonly capMs = 2_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A start time for `hold`, taken when the request's work begins. */
  start(): number {
    return this.now();
  }

  /** Resolves at the floor for a request whose work began at `startedAt` and is done now. */
  async hold(startedAt: number): Promise<void> {
    const waitMs = this.waitMs(startedAt);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  /** How long an answer whose work began at `startedAt` and is done now waits (and remembers its work). */
  waitMs(startedAt: number): number {
    if (this.floorMs <= 0) return 0;
    const now = this.now();
    const took = now - startedAt;
    while (this.recent.length > 0 && (now - this.recent[0]!.at > this.windowMs || this.recent.length >= REMEMBERED)) this.recent.shift();
    this.recent.push({ at: now, took });
    const sorted = this.recent.map((r) => r.took).sort((a, b) => a - b);
    const covered = sorted[Math.min(sorted.length - 1, Math.floor(COVERED * sorted.length))]!;
    const floor = Math.min(this.capMs, Math.max(this.floorMs, covered));
    return Math.max(0, floor - took);
  }
}
