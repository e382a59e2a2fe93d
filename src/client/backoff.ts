/** Reconnect delays: exponential, capped, with "equal jitter" (half fixed, half random) so a
 * crowd of clients cut at once does not come back at once, and no delay is ever zero. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const { baseMs, maxMs, random = Math.random } = this.options;
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
