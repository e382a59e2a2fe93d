import type { GroupEvent, GroupSummary } from '../protocol/server-frames.js';
import { GroupCursor } from './group-cursor.js';

// The groups a client follows: where each stands (its cursor, what to sync), and what its user
// has not read. Knows nothing of sockets: the client feeds it summaries, events and read markers.

export type GroupState = Pick<GroupSummary, 'id' | 'kind' | 'name' | 'communityId' | 'role'> & {
  /** The last seq delivered to the app. */
  lastSeq: number;
  /** The user's read marker. */
  readSeq: number;
  /** Messages by others after the read marker. */
  unread: number;
  /** Seqs of the pinned messages, most recently pinned first. */
  pins: number[];
};

export interface GroupTrackerHooks {
  /** An event, once and in seq order. */
  event(event: GroupEvent): void;
  /** A group's summary changed (a rename, its pins). */
  group(state: GroupState): void;
  /** Messages of a group disappeared (their time ran out): drop their content. */
  expired?(change: { group: string; seqs: number[] }): void;
  unread(change: { group: string; unread: number; readSeq: number }): void;
  /** Events past a gap waited too long outside a sync: fetch the missing ones. */
  gap(group: string): void;
}

export interface GroupTrackerOptions {
  /** On first sight of a group, how many of its latest events to fetch (at least those unread). */
  initialBacklog: number;
  /** Last seen seq per group; resumes from there instead. */
  cursors?: Record<string, number> | undefined;
  /** The signed-in user, whose own messages are never unread. */
  self(): string | undefined;
  gapWaitMs?: number;
}

interface Tracked {
  summary: GroupSummary;
  cursor: GroupCursor;
  readSeq: number;
  /** seqs of others' messages after readSeq that this client has seen. */
  unreadSeqs: Set<number>;
  /** Events between readSeq and the first fetched seq (never fetched): counted as unread. */
  unfetched: { from: number; to: number };
  /** A read marker to send once connected. */
  readToSend: number;
  gapTimer?: ReturnType<typeof setTimeout>;
}

export class GroupTracker {
  private readonly tracked = new Map<string, Tracked>();
  /** Groups with a sync request out. */
  private readonly syncing = new Set<string>();

  constructor(
    private readonly options: GroupTrackerOptions,
    private readonly hooks: GroupTrackerHooks,
  ) {}

  has(group: string): boolean {
    return this.tracked.has(group);
  }

  ids(): string[] {
    return [...this.tracked.keys()];
  }

  states(): GroupState[] {
    return this.ids().map((id) => this.state(id)!);
  }

  state(id: string): GroupState | undefined {
    const g = this.tracked.get(id);
    if (!g) return undefined;
    const { kind, name, communityId, role } = g.summary;
    const pins = g.summary.pins ?? [];
    return { id, kind, name, communityId, role, lastSeq: g.cursor.seq, readSeq: g.readSeq, unread: this.unreadOf(g), pins };
  }

  /** Follows a group, or takes a fresher summary of one already followed. */
  track(summary: GroupSummary): void {
    const existing = this.tracked.get(summary.id);
    if (existing) {
      existing.summary = { ...summary, lastSeq: Math.max(summary.lastSeq, existing.cursor.seq) };
      if (summary.readSeq > existing.readSeq) this.setReadSeq(summary.id, existing, summary.readSeq);
      return;
    }
    const resumeAt = this.options.cursors?.[summary.id];
    const start = resumeAt ?? Math.max(summary.readSeq, summary.lastSeq - this.options.initialBacklog, 0);
    this.tracked.set(summary.id, {
      summary,
      cursor: new GroupCursor(start),
      readSeq: summary.readSeq,
      unreadSeqs: new Set(),
      // Never-fetched events count as unread: an estimate (they may not all be messages).
      unfetched: { from: summary.readSeq, to: resumeAt === undefined ? start : summary.readSeq },
      readToSend: 0,
    });
  }

  /** Stops following a group; false if it was not followed. */
  untrack(group: string): boolean {
    const g = this.tracked.get(group);
    if (!g) return false;
    clearTimeout(g.gapTimer);
    this.tracked.delete(group);
    this.syncing.delete(group);
    return true;
  }

  // Syncing

  /** Of these groups, those behind the server or past a gap, with no sync out: marked as syncing, with their cursors. */
  startSync(groups: string[]): Record<string, number> {
    const after: Record<string, number> = {};
    for (const id of groups) {
      const g = this.tracked.get(id);
      if (!g || this.syncing.has(id) || (g.cursor.seq >= g.summary.lastSeq && !g.cursor.hasGap)) continue;
      this.syncing.add(id);
      after[id] = g.cursor.seq;
    }
    return after;
  }

  /** A sync answered (or failed) for a group. */
  endSync(group: string): void {
    this.syncing.delete(group);
  }

  /** After a sync page: whether the group needs another (the server has more, or events are missing). */
  behind(group: string, hasMore: boolean): boolean {
    const g = this.tracked.get(group);
    return !!g && (hasMore || g.cursor.hasGap);
  }

  /** The socket went: its sync requests are void. */
  abandonSyncs(): void {
    this.syncing.clear();
  }

  get synced(): boolean {
    return this.syncing.size === 0;
  }

  // Events

  /** Takes one event from live delivery or a sync; the app hears each once, in order. */
  accept(event: GroupEvent): void {
    const g = this.tracked.get(event.group);
    if (!g) return;
    for (const e of g.cursor.accept(event)) {
      if (e.seq > g.summary.lastSeq) g.summary = { ...g.summary, lastSeq: e.seq };
      this.countUnread(e.group, g, e);
      const renamed = e.kind === 'group' && typeof e.changes.name === 'string';
      if (renamed) g.summary = { ...g.summary, name: e.changes.name as string };
      const repinned = e.kind === 'group' && Array.isArray(e.changes.pins);
      if (repinned) g.summary = { ...g.summary, pins: e.changes.pins as number[] };
      this.hooks.event(e);
      if (renamed || repinned) this.hooks.group(this.state(e.group)!);
    }
    this.watchGap(event.group, g);
  }

  /**
   * Messages disappeared (an `expired` frame): they are no longer unread, and the app drops
   * their content. Their events, synced later, say `expired: true` themselves.
   */
  expired(group: string, seqs: number[]): void {
    const g = this.tracked.get(group);
    if (!g) return;
    let changed = false;
    for (const seq of seqs) changed = g.unreadSeqs.delete(seq) || changed;
    this.hooks.expired?.({ group, seqs });
    if (changed) this.emitUnread(group, g);
  }

  /** Live delivery is gapless, so a gap outside a sync is a lost frame: fill it from the log. */
  private watchGap(group: string, g: Tracked): void {
    clearTimeout(g.gapTimer);
    if (!g.cursor.hasGap || this.syncing.has(group)) return;
    g.gapTimer = setTimeout(() => {
      if (g.cursor.hasGap) this.hooks.gap(group);
    }, this.options.gapWaitMs ?? 300);
  }

  // Read markers and unread counts

  /** The user read up to `seq` here (default: the last delivered); true if the marker moved. */
  markRead(group: string, seq?: number): boolean {
    const g = this.tracked.get(group);
    if (!g) return false;
    const target = Math.min(seq ?? g.cursor.seq, g.cursor.seq);
    if (target <= g.readSeq) return false;
    this.setReadSeq(group, g, target);
    g.readToSend = Math.max(g.readToSend, target);
    return true;
  }

  /** The read marker moved elsewhere (another device). */
  readElsewhere(group: string, seq: number): void {
    const g = this.tracked.get(group);
    if (g && seq > g.readSeq) this.setReadSeq(group, g, seq);
  }

  /** The read marker still to tell the server, or 0. */
  readToSend(group: string): number {
    return this.tracked.get(group)?.readToSend ?? 0;
  }

  /** The server has the marker at `seq` (or refused it for good): nothing to send up to there. */
  readSent(group: string, seq: number): void {
    const g = this.tracked.get(group);
    if (g && g.readToSend <= seq) g.readToSend = 0;
  }

  private countUnread(group: string, g: Tracked, e: GroupEvent): void {
    let changed = false;
    if (e.kind === 'message' && e.sender !== this.options.self() && e.seq > g.readSeq && !e.deleted && !e.expired) {
      g.unreadSeqs.add(e.seq);
      changed = true;
    } else if (e.kind === 'delete') {
      changed = g.unreadSeqs.delete(e.target);
    }
    if (changed) this.emitUnread(group, g);
  }

  private setReadSeq(group: string, g: Tracked, seq: number): void {
    g.readSeq = seq;
    for (const s of g.unreadSeqs) if (s <= seq) g.unreadSeqs.delete(s);
    this.emitUnread(group, g);
  }

  private unreadOf(g: Tracked): number {
    const unfetched = Math.max(0, g.unfetched.to - Math.max(g.unfetched.from, g.readSeq));
    return g.unreadSeqs.size + unfetched;
  }

  private emitUnread(group: string, g: Tracked): void {
    this.hooks.unread({ group, unread: this.unreadOf(g), readSeq: g.readSeq });
  }
}
