import { type Clock, systemClock } from '../platform/clock.js';

/**
 * Requests per key in fixed windows, answered without waiting: rate-limiter-flexible's memory
 * limiter answers only through a promise, and a WebSocket upgrade must decide before uWS's
 * handler returns (gateway/websocket.ts). All keys share the window, so the whole map is
 * dropped at its end: memory is bounded by the keys seen in one window.
 */
export class WindowCounter {
  private counts = new Map<string, number>();
  private windowEnds = 0;

  constructor(
    private readonly points: number,
    private readonly durationMs: number,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {}

  /** Counts one request of `key`: 0 when within the limit, else the ms until the window ends. */
  take(key: string, now = this.clock.now()): number {
    if (now >= this.windowEnds) {
      this.counts = new Map();
      this.windowEnds = now + this.durationMs;
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n > this.points ? this.windowEnds - now : 0;
  }
}
