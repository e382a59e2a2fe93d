import type { AttachmentFrame, GroupEvent, HistoryMessageFrame, MessageEvent, RsvpCounts } from '../protocol/server-frames.js';

// A conversation's messages as they now stand, built from history pages and live events
// (docs/protocol.md §5 "Frames from the server"): edits, deletions, reactions, tallies, closed
// polls, expiries and membership lines applied to the message they concern. Pure: no I/O, no
// timers, no DOM; a client draws what `apply` says changed, and fetches what it says to fetch.

export type RsvpAnswer = 'going' | 'maybe' | 'no';

/** A poll with its votes per option and the user's own choice (`[]`: none). */
export interface TimelinePoll {
  question: string;
  options: string[];
  multiple: boolean;
  closed: boolean;
  counts: number[];
  mine: number[];
}

/** An event (meeting, shift) with its answers and the user's own (null: none). */
export interface TimelineEvent {
  title: string;
  startsAt: string;
  endsAt?: string;
  location?: string;
  counts: RsvpCounts;
  mine: RsvpAnswer | null;
}

/** A line about the group rather than a message: someone joined, left, was promoted…, or a rename. */
export type TimelineNotice =
  | { kind: 'member'; member: string; action: Extract<GroupEvent, { kind: 'member' }>['action'] }
  | { kind: 'renamed'; by: string; name: string };

/** One entry of the timeline, keyed by its `seq`. Replaced (never mutated) when it changes. */
export interface TimelineItem {
  seq: number;
  sender: string;
  ts: string;
  /** null: deleted or expired. */
  text: string | null;
  clientMsgId: string | null;
  edited: boolean;
  attachments: AttachmentFrame[];
  replyTo: number | null;
  mentions: string[];
  reactions: Record<string, number>;
  /** Disappearing messages: when it goes, and whether it has. */
  expiresAt?: string;
  expired?: boolean;
  poll?: TimelinePoll;
  event?: TimelineEvent;
  /** Set on membership and rename lines, which are not messages. */
  notice?: TimelineNotice;
}

/** What applying an event did: the seqs whose entry changed, and a poll or event whose counts to fetch again. */
export interface TimelineChange {
  changed: number[];
  /** Someone else voted or answered (ordinary groups send no tally): fetch that message's counts. */
  refetchCounts?: number;
}

const unchanged = (): TimelineChange => ({ changed: [] });

/** A message as `history` (or `GET …/messages`) gives it, as it now stands. */
export function itemFromHistory(m: HistoryMessageFrame): TimelineItem {
  const gone = m.deleted || !!m.expired;
  return {
    seq: m.seq,
    sender: m.sender,
    ts: m.ts,
    text: gone ? null : m.text,
    clientMsgId: m.clientMsgId,
    edited: m.editedAt !== null,
    attachments: gone ? [] : (m.attachments ?? []),
    ...(m.expiresAt ? { expiresAt: m.expiresAt } : {}),
    ...(m.expired ? { expired: true } : {}),
    ...(m.poll && !m.deleted ? { poll: { ...m.poll, closed: m.poll.closed } } : {}),
    ...(m.event && !m.deleted ? { event: m.event as TimelineEvent } : {}),
    replyTo: m.replyTo,
    mentions: m.mentions,
    reactions: m.reactions,
  };
}

/** A live `message` event: nobody has voted, answered or reacted yet. */
export function itemFromMessage(e: MessageEvent): TimelineItem {
  const gone = !!e.deleted || !!e.expired;
  return {
    seq: e.seq,
    sender: e.sender,
    ts: e.ts,
    text: gone ? null : e.text,
    clientMsgId: e.clientMsgId,
    edited: !!e.editedAt,
    attachments: gone ? [] : (e.attachments ?? []),
    ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
    ...(e.expired ? { expired: true } : {}),
    ...(e.poll && !e.deleted ? { poll: { ...e.poll, closed: e.poll.closed ?? false, counts: e.poll.options.map(() => 0), mine: [] } } : {}),
    ...(e.event && !e.deleted ? { event: { ...e.event, counts: { going: 0, maybe: 0, no: 0 }, mine: null } } : {}),
    replyTo: e.replyTo,
    mentions: e.mentions,
    reactions: {},
  };
}

const noticeItem = (e: GroupEvent, notice: TimelineNotice): TimelineItem => ({
  seq: e.seq,
  sender: e.sender,
  ts: e.ts,
  text: null,
  clientMsgId: null,
  edited: false,
  attachments: [],
  replyTo: null,
  mentions: [],
  reactions: {},
  notice,
});

/** One group's timeline, for the user `me` (whose own reactions it tracks). */
export class Timeline {
  private readonly entries = new Map<number, TimelineItem>();
  /** Who reacted with what, as seen live (history gives only counts): to move a changed reaction. */
  private readonly reactors = new Map<number, Map<string, string>>();
  /** The user's own reaction per message. */
  private readonly mine = new Map<number, string>();

  constructor(readonly me: string) {}

  get(seq: number): TimelineItem | undefined {
    return this.entries.get(seq);
  }
  has(seq: number): boolean {
    return this.entries.has(seq);
  }
  get size(): number {
    return this.entries.size;
  }
  /** Every entry, oldest first. */
  items(): TimelineItem[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq);
  }
  /** The messages (not notices), newest first, at most `limit`. */
  latestMessages(limit = Number.POSITIVE_INFINITY): TimelineItem[] {
    return this.items()
      .filter((i) => !i.notice)
      .reverse()
      .slice(0, limit);
  }
  /** The oldest message's seq (where the next older history page ends), or undefined when empty. */
  oldestMessageSeq(): number | undefined {
    return this.items().find((i) => !i.notice)?.seq;
  }
  /** The first message from someone else after `readSeq`: where "new messages" begin. */
  firstUnreadAfter(readSeq: number): TimelineItem | undefined {
    return this.items().find((i) => i.seq > readSeq && i.sender !== this.me && !i.notice);
  }
  /** The `clientMsgId`s already in the timeline: a pending send with one of them has arrived. */
  clientMsgIds(): Set<string> {
    return new Set(this.items().flatMap((i) => (i.clientMsgId ? [i.clientMsgId] : [])));
  }
  /** The user's own reaction to a message, as seen live. */
  myReaction(seq: number): string | undefined {
    return this.mine.get(seq);
  }

  /** Sets entries as they are (a copy kept offline, say); returns their seqs. */
  restore(items: readonly TimelineItem[]): number[] {
    for (const item of items) this.entries.set(item.seq, item);
    return items.map((i) => i.seq);
  }
  /** Replaces everything with the newest history page. */
  reset(messages: readonly HistoryMessageFrame[]): void {
    this.entries.clear();
    this.reactors.clear();
    this.mine.clear();
    for (const m of messages) this.entries.set(m.seq, itemFromHistory(m));
  }
  /** Adds an older history page; what is already there (fresher, from live events) stays. Returns the seqs added. */
  addHistory(messages: readonly HistoryMessageFrame[]): number[] {
    const added: number[] = [];
    for (const m of messages) {
      if (this.entries.has(m.seq)) continue;
      this.entries.set(m.seq, itemFromHistory(m));
      added.push(m.seq);
    }
    return added;
  }
  /** Counts fetched again (`GET …/votes` or `…/rsvps`) for a poll or event. */
  setCounts(
    seq: number,
    answer: { counts: number[]; mine: number[]; closed: boolean } | { counts: RsvpCounts; mine: RsvpAnswer | null },
  ): number[] {
    const item = this.entries.get(seq);
    if (item?.poll && Array.isArray(answer.counts)) {
      const poll = answer as { counts: number[]; mine: number[]; closed: boolean };
      return this.put({ ...item, poll: { ...item.poll, counts: poll.counts, mine: poll.mine, closed: poll.closed } });
    }
    if (item?.event && !Array.isArray(answer.counts)) {
      const event = answer as { counts: RsvpCounts; mine: RsvpAnswer | null };
      return this.put({ ...item, event: { ...item.event, counts: event.counts, mine: event.mine } });
    }
    return [];
  }
  /** An `expired` frame: these messages lost their text and files. */
  expire(seqs: readonly number[]): number[] {
    return seqs.flatMap((seq) => {
      const item = this.entries.get(seq);
      return item ? this.put(erased({ ...item, expired: true })) : [];
    });
  }

  /** Applies one event of the group's log. */
  apply(e: GroupEvent): TimelineChange {
    switch (e.kind) {
      case 'message':
        return { changed: this.put(itemFromMessage(e)) };
      case 'edit':
        return this.update(e.target, (item) => ({ ...item, text: e.text, edited: true }));
      case 'delete':
        return this.update(e.target, erased);
      case 'reaction':
        return this.react(e.target, e.sender, e.emoji);
      case 'reactions':
        return this.update(e.target, (item) => ({ ...item, reactions: e.counts }));
      case 'vote':
      case 'rsvp':
        return e.sender === this.me ? unchanged() : { changed: [], refetchCounts: e.target };
      case 'tally':
        return this.update(e.target, (item) => {
          if (item.poll && Array.isArray(e.counts)) return { ...item, poll: { ...item.poll, counts: e.counts } };
          if (item.event && !Array.isArray(e.counts)) return { ...item, event: { ...item.event, counts: e.counts } };
          return undefined;
        });
      case 'poll_closed':
        return this.update(e.target, (item) =>
          item.poll ? { ...item, poll: { ...item.poll, counts: e.counts, closed: true } } : undefined,
        );
      case 'member':
        return { changed: this.put(noticeItem(e, { kind: 'member', member: e.member, action: e.action })) };
      case 'group':
        if (typeof e.changes.name !== 'string') return unchanged();
        return { changed: this.put(noticeItem(e, { kind: 'renamed', by: e.sender, name: e.changes.name })) };
      default:
        return unchanged(); // `hidden`, and kinds a newer server may add
    }
  }

  private put(item: TimelineItem): number[] {
    this.entries.set(item.seq, item);
    return [item.seq];
  }
  private update(seq: number, change: (item: TimelineItem) => TimelineItem | undefined): TimelineChange {
    const item = this.entries.get(seq);
    const next = item && change(item);
    return next ? { changed: this.put(next) } : unchanged();
  }
  /** A reaction moves: the sender's previous one (if known) is taken back, the new one counted. */
  private react(seq: number, sender: string, emoji: string | null): TimelineChange {
    const item = this.entries.get(seq);
    if (!item) return unchanged();
    const who = this.reactors.get(seq) ?? new Map<string, string>();
    this.reactors.set(seq, who);
    const counts = { ...item.reactions };
    const before = who.get(sender) ?? (sender === this.me ? this.mine.get(seq) : undefined);
    if (before && counts[before]) counts[before] = Math.max(0, counts[before] - 1);
    if (emoji) {
      counts[emoji] = (counts[emoji] ?? 0) + 1;
      who.set(sender, emoji);
    } else who.delete(sender);
    if (sender === this.me) {
      if (emoji) this.mine.set(seq, emoji);
      else this.mine.delete(seq);
    }
    return { changed: this.put({ ...item, reactions: counts }) };
  }
}

/** A deleted or expired message: no text, no files, no poll or event. */
function erased(item: TimelineItem): TimelineItem {
  const { poll: _poll, event: _event, ...rest } = item;
  return { ...rest, text: null, attachments: [] };
}
