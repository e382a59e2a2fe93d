/**
 * Holds answers whose time must not tell which of several paths the server took: an add answered
 * `invited` for an unknown user, a user who blocked the adder, a user who does not let them add
 * (docs/protocol.md §8 "Privacy and safety"). Those paths run the same statements (consent.ts);
 * what is left (a row written or not, a frame published or not, a join request and its admins'
 * frames) is hidden here: each such answer leaves no earlier than `floorMs` after its request
 * began, nor earlier than the slowest such work of the last window took, so under load every
 * path's answer rises together. A timer, never CPU; past `capMs` the answer goes as it is.
 */
export class AnswerFloor {
  private windowStart = 0;
  private slowest = 0;
  private previousSlowest = 0;

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

  /** How long an answer whose work began at `startedAt` and is done now waits (and counts its work). */
  waitMs(startedAt: number): number {
    if (this.floorMs <= 0) return 0;
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.previousSlowest = now - this.windowStart >= 2 * this.windowMs ? 0 : this.slowest;
      this.slowest = 0;
      this.windowStart = now;
    }
    const took = now - startedAt;
    this.slowest = Math.max(this.slowest, took);
    const floor = Math.min(this.capMs, Math.max(this.floorMs, this.slowest, this.previousSlowest));
    return Math.max(0, floor - took);
  }
}
