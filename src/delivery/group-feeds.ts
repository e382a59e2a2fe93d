import type { Bus, BusMessage } from '../bus/bus.js';
import type { Logger } from '../platform/obs/logger.js';
import type { LogEvent } from '../protocol/frames.js';
import { eventBusMessage } from './event-message.js';
import { groupTopic } from './topics.js';

/** Where a feed hands in-order frames: the hub, which passes them to the transport's topics. */
export interface Fanout {
  /** Sends the bytes to every local session following the group, except the origin connection. */
  publish(groupId: string, data: string, origin?: string): void;
  /** The user left the group: their local sessions stop following it, right after that event. */
  memberLeft(groupId: string, userId: string): void;
}

/** What a feed reads from storage: where a log ends, and the events it missed. */
export interface FeedStorage {
  lastSeq(groupId: string): Promise<number>;
  /** Where each of these logs ends; groups that no longer exist may be left out. */
  lastSeqs(groupIds: string[]): Promise<{ id: string; lastSeq: number }[]>;
  eventsAfter(groupId: string, afterSeq: number, limit: number): Promise<LogEvent[]>;
}

export interface FeedOptions {
  /** How long an out-of-order event waits for the missing ones before storage is asked. */
  gapWaitMs: number;
  fillPageSize: number;
  /** How often every running feed is checked against storage for events the bus never brought. */
  checkIntervalMs: number;
  /**
   * How long a feed keeps running after its last reference goes: a socket of the group that
   * starts here meanwhile (a phone back from the background, a flapping network) finds it
   * current, with no bus subscription and no storage read to wait for. 0 stops it at once.
   */
  lingerMs?: number;
  onGapFill?: () => void;
}

/** Feeds asked about in one storage query by the periodic check. */
const CHECK_CHUNK = 1000;

/**
 * How long feeds started from a listing gather before one query checks where their logs end: under
 * connection churn, a read per new feed was a quarter of the statements the churn added, and a
 * round trip before `ready`. An event committed between a listing and the subscription is late by
 * at most this (plus the gap wait); one that is merely in flight comes by the bus sooner.
 */
const LISTED_CHECK_MS = 250;

interface Feed {
  readonly groupId: string;
  refs: number;
  /** The last seq handed to local sockets; -1 until the baseline is read from storage. */
  delivered: number;
  ready: Promise<void>;
  /** Events that arrived before the baseline was known. */
  early: BusMessage[];
  /** Events that arrived ahead of a gap, by seq. */
  held: Map<number, BusMessage>;
  gapTimer: NodeJS.Timeout | undefined;
  filling: boolean;
  closed: boolean;
  /** The log's end as storage gave it at the previous periodic check. */
  checkedEnd: number;
  /** Set while no one references the feed: it stops when this fires. */
  lingerTimer: NodeJS.Timeout | undefined;
}

/**
 * One feed per group that local sockets follow: subscribed on the bus while referenced, it hands
 * each event to the fanout exactly once and in seq order, holding early arrivals and filling
 * gaps from storage, so every socket sees its groups gapless across any number of replicas.
 */
export class GroupFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly checkTimer: NodeJS.Timeout;
  private checking = false;
  /** Feeds started from a listing, whose log ends are read together once LISTED_CHECK_MS has passed. */
  private listedStarts = new Set<Feed>();
  private listedTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly storage: FeedStorage,
    private readonly fanout: Fanout,
    private readonly options: FeedOptions,
    private readonly logger: Logger,
  ) {
    this.checkTimer = setInterval(() => void this.checkAgainstStorage(), options.checkIntervalMs);
    this.checkTimer.unref();
  }

  /**
   * Takes a reference; resolves once the feed knows where the log stands. `listedEnd`: where a
   * listing read before this call saw the log end; a new feed then starts there once subscribed,
   * with no read of its own, and its log's end is checked shortly after with other such starts'.
   */
  acquire(groupId: string, listedEnd?: number): Promise<void> {
    const existing = this.feeds.get(groupId);
    if (existing) {
      clearTimeout(existing.lingerTimer);
      existing.lingerTimer = undefined;
      existing.refs++;
      return existing.ready;
    }
    const feed: Feed = {
      groupId,
      refs: 1,
      delivered: -1,
      ready: Promise.resolve(),
      early: [],
      held: new Map(),
      gapTimer: undefined,
      filling: false,
      closed: false,
      checkedEnd: -1,
      lingerTimer: undefined,
    };
    this.feeds.set(groupId, feed);
    feed.ready = this.start(feed, listedEnd);
    return feed.ready;
  }

  /** Drops a reference; the last one stops the feed after `lingerMs`. */
  release(groupId: string): void {
    const feed = this.feeds.get(groupId);
    if (!feed || feed.refs === 0 || --feed.refs > 0) return;
    const lingerMs = this.options.lingerMs ?? 0;
    if (lingerMs <= 0) {
      this.stop(feed);
      return;
    }
    feed.lingerTimer = setTimeout(() => this.stop(feed), lingerMs);
    feed.lingerTimer.unref();
  }

  private stop(feed: Feed): void {
    if (feed.closed) return;
    feed.closed = true;
    clearTimeout(feed.gapTimer);
    clearTimeout(feed.lingerTimer);
    this.feeds.delete(feed.groupId);
    this.bus
      .unsubscribe(groupTopic(feed.groupId))
      .catch((err: unknown) => this.logger.warn('bus unsubscribe failed', { groupId: feed.groupId, err }));
  }

  /** The seq after which a socket that starts following the group now receives events. */
  deliveredSeq(groupId: string): number {
    return this.feeds.get(groupId)?.delivered ?? -1;
  }

  /** A bus message on a group topic. */
  receive(groupId: string, message: BusMessage): void {
    const feed = this.feeds.get(groupId);
    if (!feed) return;
    if (message.seq === undefined) {
      this.fanout.publish(groupId, message.data, message.origin);
      return;
    }
    if (feed.delivered < 0) {
      feed.early.push(message);
      return;
    }
    this.accept(feed, message);
  }

  /** After the bus may have lost messages: every feed catches up from storage. */
  resyncAll(): void {
    for (const feed of this.feeds.values()) {
      if (feed.delivered >= 0) void this.fill(feed, Number.MAX_SAFE_INTEGER);
    }
  }

  /**
   * Catches up feeds whose log moved on without this replica hearing of it: an event committed
   * and published, but lost on the way (this replica's or the sender's Redis connection dropped
   * with it in flight, no resync follows on this side). Without this, connected sockets would get
   * it only with the group's next event, which in an announcement group may be hours away. An
   * end that storage reported one check ago and that is still not delivered is filled; an event
   * merely in flight on the bus at one check is delivered by the next, so busy groups cost nothing.
   */
  async checkAgainstStorage(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const ids = [...this.feeds.values()].filter((f) => f.delivered >= 0).map((f) => f.groupId);
      for (let i = 0; i < ids.length; i += CHECK_CHUNK) {
        for (const { id, lastSeq } of await this.storage.lastSeqs(ids.slice(i, i + CHECK_CHUNK))) {
          const feed = this.feeds.get(id);
          if (!feed || feed.delivered < 0) continue;
          if (feed.checkedEnd > feed.delivered) void this.fill(feed, feed.checkedEnd);
          feed.checkedEnd = lastSeq;
        }
      }
    } catch (err) {
      this.logger.warn('checking feeds against storage failed; next check retries', { err });
    } finally {
      this.checking = false;
    }
  }

  close(): void {
    clearInterval(this.checkTimer);
    clearTimeout(this.listedTimer);
    this.listedStarts.clear();
    for (const feed of this.feeds.values()) {
      feed.closed = true;
      clearTimeout(feed.gapTimer);
      clearTimeout(feed.lingerTimer);
    }
    this.feeds.clear();
  }

  private async start(feed: Feed, listedEnd: number | undefined): Promise<void> {
    try {
      // Subscribe first, then read the baseline: nothing committed after the read is missed.
      // A listed end was read before the subscription: what was committed in between (rarely
      // anything) comes from the check of listed starts, or with the gap before the next event.
      await this.bus.subscribe(groupTopic(feed.groupId));
      const lastSeq = listedEnd ?? (await this.storage.lastSeq(feed.groupId));
      if (feed.closed) return;
      if (listedEnd !== undefined) this.checkListedStart(feed);
      feed.delivered = lastSeq;
      const early = feed.early;
      feed.early = [];
      for (const message of early) this.accept(feed, message);
    } catch (err) {
      // Leave no half-started feed behind; the caller sees the error and may retry.
      if (this.feeds.get(feed.groupId) === feed) {
        feed.closed = true;
        clearTimeout(feed.lingerTimer);
        this.feeds.delete(feed.groupId);
        this.bus.unsubscribe(groupTopic(feed.groupId)).catch(() => undefined);
      }
      throw err;
    }
  }

  private checkListedStart(feed: Feed): void {
    this.listedStarts.add(feed);
    this.listedTimer ??= setTimeout(() => void this.checkListedStarts(), LISTED_CHECK_MS);
    this.listedTimer.unref();
  }

  /** Fills, after the gap wait, the feeds started from a listing whose log had moved on meanwhile. */
  private async checkListedStarts(): Promise<void> {
    this.listedTimer = undefined;
    const started = [...this.listedStarts].filter((f) => !f.closed);
    this.listedStarts = new Set();
    try {
      for (let i = 0; i < started.length; i += CHECK_CHUNK) {
        const chunk = started.slice(i, i + CHECK_CHUNK);
        const ends = new Map((await this.storage.lastSeqs(chunk.map((f) => f.groupId))).map((e) => [e.id, e.lastSeq]));
        for (const feed of chunk) {
          const end = ends.get(feed.groupId);
          if (end === undefined || end <= feed.delivered || feed.closed) continue;
          // Events in flight on the bus get the gap wait to arrive, as any gap does.
          setTimeout(() => {
            if (!feed.closed && feed.delivered < end) void this.fill(feed, end);
          }, this.options.gapWaitMs).unref();
        }
      }
    } catch (err) {
      // The periodic check finds what is missing (an end it saw one check ago, still not delivered).
      this.logger.warn('checking started feeds against storage failed', { err });
    }
  }

  private accept(feed: Feed, message: BusMessage): void {
    const seq = message.seq!;
    if (seq <= feed.delivered || feed.held.has(seq)) return;
    if (seq === feed.delivered + 1) {
      this.deliver(feed, message);
      this.drainHeld(feed);
      return;
    }
    feed.held.set(seq, message);
    if (!feed.gapTimer && !feed.filling) {
      feed.gapTimer = setTimeout(() => {
        feed.gapTimer = undefined;
        void this.fill(feed, Math.max(...feed.held.keys()));
      }, this.options.gapWaitMs);
    }
  }

  private deliver(feed: Feed, message: BusMessage): void {
    feed.delivered = message.seq!;
    this.fanout.publish(feed.groupId, message.data);
    if (message.leaves) this.fanout.memberLeft(feed.groupId, message.leaves);
  }

  private drainHeld(feed: Feed): void {
    for (let next = feed.held.get(feed.delivered + 1); next && !feed.closed; next = feed.held.get(feed.delivered + 1)) {
      feed.held.delete(next.seq!);
      this.deliver(feed, next);
    }
    if (feed.held.size === 0) {
      clearTimeout(feed.gapTimer);
      feed.gapTimer = undefined;
    }
  }

  /** Reads what this replica missed, up to `upTo`, from storage and delivers it in order. */
  private async fill(feed: Feed, upTo: number): Promise<void> {
    if (feed.filling || feed.closed) return;
    feed.filling = true;
    this.options.onGapFill?.();
    try {
      while (!feed.closed && feed.delivered < upTo) {
        const rows = await this.storage.eventsAfter(feed.groupId, feed.delivered, this.options.fillPageSize);
        for (const row of rows) {
          if (feed.closed) return;
          if (row.seq !== feed.delivered + 1) continue; // delivered meanwhile by the bus
          const held = feed.held.get(row.seq);
          feed.held.delete(row.seq);
          this.deliver(feed, held ?? eventBusMessage(row));
        }
        this.drainHeld(feed);
        if (rows.length < this.options.fillPageSize) break;
      }
    } catch (err) {
      this.logger.warn('gap fill from storage failed; retrying', { groupId: feed.groupId, err });
      setTimeout(() => void this.fill(feed, upTo), 1000).unref();
    } finally {
      feed.filling = false;
    }
    // Events may have queued up behind a gap that storage did not have yet: try again later.
    if (!feed.closed && feed.held.size > 0 && !feed.gapTimer) {
      feed.gapTimer = setTimeout(() => {
        feed.gapTimer = undefined;
        void this.fill(feed, Math.max(...feed.held.keys()));
      }, this.options.gapWaitMs);
    }
  }
}
