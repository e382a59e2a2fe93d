import type { GroupEvent } from '../protocol/server-frames.js';

/**
 * The delivered position of one group. Events come from live delivery and from `sync` replies,
 * which overlap after a reconnect: anything at or below `seq` is a duplicate and dropped, an
 * event past `seq + 1` waits until the ones before it arrive, so the consumer sees 1, 2, 3, …
 */
export class GroupCursor {
  private readonly held = new Map<number, GroupEvent>();

  constructor(public seq: number) {}

  /** Takes one event; returns the events now deliverable, in order (empty for duplicates or gaps). */
  accept(event: GroupEvent): GroupEvent[] {
    if (event.seq <= this.seq) return [];
    if (event.seq > this.seq + 1) {
      this.held.set(event.seq, event);
      return [];
    }
    const out = [event];
    this.seq = event.seq;
    for (let next = this.held.get(this.seq + 1); next; next = this.held.get(this.seq + 1)) {
      this.held.delete(next.seq);
      out.push(next);
      this.seq = next.seq;
    }
    return out;
  }

  /** True while events past a gap are waiting. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /** Held events, for tests and diagnostics. */
  get heldCount(): number {
    return this.held.size;
  }
}
