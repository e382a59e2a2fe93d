import type { EventRow } from '../../platform/db/schema.js';

/** Where this replica's delivery stands in a group's log (the hub's group feeds, wired in gateway.ts). */
export interface GroupLogView {
  /** Takes a reference on the group's feed; resolves once it knows where the log stands. */
  follow(groupId: string): Promise<void>;
  release(groupId: string): void;
  /** The last seq this replica delivered in the group: moves with every event, in order (-1: not followed). */
  deliveredSeq(groupId: string): number;
}

/** The newest `limit` messages of a group as storage gave them, with their reaction counts. */
export interface NewestPage {
  messages: { row: EventRow; reactions: Record<string, number> }[];
  hasMore: boolean;
}

interface Entry {
  groupId: string;
  /** The feed's seq when the page was read: the page holds every event up to it (and maybe some after). */
  seq: number;
  /** When (this cache's tick) the read started: a commit here after it makes the page stale. */
  startedAt: number;
  page: NewestPage;
  /** The answer built from the page: the same for every member (see NewestPages). */
  answer?: unknown;
  usedAt: number;
  /** About what the page keeps in memory. */
  bytes: number;
}

export interface NewestPagesOptions {
  maxEntries: number;
  /** About how much memory all pages may keep (texts, and a fixed share per message). */
  maxBytes: number;
  /** Pages not read for this long are dropped, with their feed reference. */
  idleMs: number;
}

/**
 * The newest history page of groups being read on this replica, so an app open after an
 * announcement reads it from memory. Exact through the same events that feed delivery: every
 * change to a message a page shows (a message, an edit, a delete, a reaction, an erasure notice,
 * any new kind) is a log event with the next seq, so a page is served only while this replica's
 * feed of the group still stands at the seq it had when the page was read; the first event after
 * it invalidates it, whatever its kind (never patched). The cache holds a feed reference per page,
 * so the replica hears the group's events even with no socket of it here. A page is as fresh as
 * the replica's live stream (bus latency, gap fills), never older. Reaction counts of
 * announcement groups are tallied into events only every TALLY_INTERVAL_MS, so callers read those
 * counts from storage on every request (`answer` is not kept for them).
 *
 * What a page holds (rows and, but for announcement groups, reaction counts) is the same for every
 * member; what differs per viewer or moment is computed per request by the caller (poll and RSVP
 * answers, expiry against the clock). A rule that shows members different rows (blocks, hidden
 * kinds) must key or bypass this cache. Expiry erases rows without an event: its frame tells this
 * replica's commits (Publisher.expired), and a page read before renders the row expired by its clock.
 */
export class NewestPages {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private bytes = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  /** Orders reads and commits of this replica. */
  private tick = 0;
  /** Pages and reads under way per group: commits are remembered only for these groups. */
  private readonly pagesOf = new Map<string, number>();
  /** The tick of each such group's last commit on this replica. */
  private readonly lastCommit = new Map<string, number>();

  constructor(
    private readonly view: GroupLogView,
    private readonly options: NewestPagesOptions = { maxEntries: 2000, maxBytes: 64 * 1024 * 1024, idleMs: 60_000 },
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1000, options.idleMs / 2));
    this.sweepTimer.unref();
  }

  /** The group's newest page of `limit` messages, from memory when still exact, else read by `read`. */
  async get(groupId: string, limit: number, read: () => Promise<NewestPage>): Promise<Entry> {
    const key = `${groupId}\u0000${limit}`;
    const entry = this.entries.get(key);
    if (entry && this.current(entry)) {
      entry.usedAt = Date.now();
      return entry;
    }
    let load = this.loading.get(key);
    if (!load) {
      this.watch(groupId, 1);
      load = this.load(key, groupId, entry, read).finally(() => {
        this.loading.delete(key);
        this.watch(groupId, -1);
      });
      this.loading.set(key, load);
    }
    return load;
  }

  /**
   * Events of the group were committed on this replica (told before they are published): its
   * pages are stale at once, so a writer reading right after its own ack sees its change even
   * before the event comes back over the bus. Commits on other replicas arrive as events.
   */
  committed(groupId: string): void {
    if (this.pagesOf.has(groupId)) this.lastCommit.set(groupId, ++this.tick);
  }

  private current(entry: Entry): boolean {
    return (
      entry.seq >= 0 && this.view.deliveredSeq(entry.groupId) === entry.seq && entry.startedAt > (this.lastCommit.get(entry.groupId) ?? 0)
    );
  }

  private watch(groupId: string, change: 1 | -1): void {
    const n = (this.pagesOf.get(groupId) ?? 0) + change;
    if (n > 0) this.pagesOf.set(groupId, n);
    else {
      this.pagesOf.delete(groupId);
      this.lastCommit.delete(groupId);
    }
  }

  /** Stops the sweep and drops every page with its feed reference (the hub closes after this). */
  close(): void {
    clearInterval(this.sweepTimer);
    for (const key of [...this.entries.keys()]) this.drop(key);
  }

  private async load(key: string, groupId: string, stale: Entry | undefined, read: () => Promise<NewestPage>): Promise<Entry> {
    // A page kept holds its feed reference; a new one takes it before reading, so the seq read
    // below is one the feed will move past at the next event.
    if (!stale) await this.view.follow(groupId);
    const startedAt = ++this.tick;
    const seq = this.view.deliveredSeq(groupId);
    let page: NewestPage;
    try {
      page = await read();
    } catch (err) {
      if (!stale) this.view.release(groupId);
      throw err;
    }
    // Each message's text twice at most (the row and its answer's JSON), and its other fields.
    const bytes = page.messages.reduce((n, m) => n + 2 * (m.row.text?.length ?? 0) + 512, 0);
    const entry: Entry = { groupId, seq, startedAt, page, usedAt: Date.now(), bytes };
    if (stale) {
      this.entries.delete(key);
      this.bytes -= stale.bytes;
      this.watch(groupId, -1);
    }
    while (this.entries.size > 0 && (this.entries.size >= this.options.maxEntries || this.bytes + bytes > this.options.maxBytes)) {
      if (!this.dropOldest()) break;
    }
    this.bytes += bytes;
    // Read while an event arrived or a commit was made here: served this once, never again.
    this.entries.set(key, entry);
    this.watch(groupId, 1);
    return entry;
  }

  /** Pages are kept in the order they were read; one being read again is not the one to drop. */
  private dropOldest(): boolean {
    for (const key of this.entries.keys()) {
      if (!this.loading.has(key)) {
        this.drop(key);
        return true;
      }
    }
    return false;
  }

  private sweep(): void {
    const idleSince = Date.now() - this.options.idleMs;
    for (const [key, entry] of this.entries) if (entry.usedAt < idleSince && !this.loading.has(key)) this.drop(key);
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    this.watch(entry.groupId, -1);
    this.view.release(entry.groupId);
  }
}
