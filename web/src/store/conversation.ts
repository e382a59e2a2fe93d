import type { GroupEvent, PendingMessage, TimelineItem } from '../../../src/client/index.js';
import { Timeline } from '../../../src/client/timeline.js';
import { Emitter } from '../../../src/client/emitter.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';
import { offline, type SavedMessage } from '../offline.js';
import type { Answer } from '../poll-event.js';

// One conversation's state and subscriptions, apart from its DOM: the timeline (the SDK's, which
// applies events to messages), the sends on their way, presence, typing, receipts and reach. The
// view draws what the store's events say changed; nothing here touches the page.

export interface Presence {
  online: boolean;
  lastSeen: string | null;
}
export interface Reach {
  delivered: number;
  notified: number;
  read: number;
  members: number;
}
export interface StoreEvents extends Record<string, unknown> {
  /** These entries changed; `live` is the event that changed them, if one did. */
  rows: { seqs: number[]; live?: GroupEvent };
  /** Everything changed (a history page replaced what was shown). */
  all: undefined;
  /** The sends on their way changed; `stick`: keep the list scrolled to the bottom. */
  pending: { stick: boolean };
  older: undefined;
  presence: undefined;
  typing: undefined;
  pins: undefined;
  title: string;
  /** "Seen by n of m" under the user's own last message, or null to hide it. */
  receipt: { count: number; of: number } | null;
  error: string;
}

export class ConversationStore extends Emitter<StoreEvents> {
  readonly me: string;
  readonly timeline: Timeline;
  pending: PendingMessage[];
  loaded = false;
  hasMore = true;
  loadingOlder = false;
  readonly presence = new Map<string, Presence>();
  readonly reach = new Map<number, Reach>();
  /** Who is typing, each until their timer runs out. */
  readonly typers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly saved: ReturnType<typeof offline.conversation>;
  /** Where the "new messages" line goes: after what was read when the conversation opened. */
  readonly readAtOpen: number;
  private readonly early: GroupEvent[] = [];
  private readonly offs: (() => void)[];
  private readonly refreshing = new Set<number>();
  private olderPage: Promise<void> | undefined;
  private receiptFetch: Promise<void> | undefined;

  constructor(
    private readonly ctx: Pick<Ctx, 'client' | 'http' | 'names' | 'session'>,
    readonly groupId: string,
  ) {
    super();
    this.me = ctx.session.user.id;
    this.timeline = new Timeline(this.me);
    this.pending = ctx.client.pending(groupId);
    this.saved = offline.conversation(this.me, groupId);
    this.readAtOpen = ctx.client.group(groupId)?.readSeq ?? 0;
    this.offs = this.subscribe();
  }

  /** The group's summary, or the copy kept offline. */
  group() {
    return this.ctx.client.group(this.groupId) ?? this.saved?.group;
  }
  /** Pinned messages (newest pin first), from the group's summary. */
  pins(): number[] {
    return this.ctx.client.group(this.groupId)?.pins ?? [];
  }
  /** Group admins pin; in a direct group either member may. */
  canPin(): boolean {
    const g = this.ctx.client.group(this.groupId);
    return !!g && (g.kind === 'direct' || g.role === 'owner' || g.role === 'admin');
  }
  /** Who announcements are from when their sender's name cannot be known: the community. */
  announcer(): string | undefined {
    const g = this.group();
    return g?.kind === 'announcement' ? `📣 ${g.name}` : undefined;
  }

  /** What was read before, shown at once (and offline) until the server's answer replaces it. */
  showSaved(): boolean {
    if (!this.saved) return false;
    this.timeline.restore(this.saved.messages);
    this.emit('all', undefined);
    return true;
  }
  /** Waits for the group's summary (just created or joined, or the page just loaded). */
  waitForGroup(timeoutMs = 8000): Promise<void> {
    const { client } = this.ctx;
    if (client.group(this.groupId)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        for (const off of waits) off();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(this.saved ? t('conv.offlineCopy') : t('conv.notFound')));
      }, timeoutMs);
      const arrived = () => {
        if (!client.group(this.groupId)) return;
        done();
        resolve();
      };
      const waits = [client.on('group', arrived), client.on('ready', arrived)];
    });
  }
  /** The newest page of history replaces what was shown; events that came meanwhile apply on top. */
  async loadLatest(): Promise<void> {
    const page = await this.ctx.client.history(this.groupId, { limit: 50 });
    this.timeline.reset(page.messages);
    this.hasMore = page.hasMore;
    this.loaded = true;
    this.emit('all', undefined);
    for (const e of this.early.splice(0)) this.apply(e);
  }
  /** One page of older history; callers share the page already on its way. */
  loadOlder(): Promise<void> {
    if (!this.hasMore) return Promise.resolve();
    this.olderPage ??= this.fetchOlder().finally(() => (this.olderPage = undefined));
    return this.olderPage;
  }
  private async fetchOlder() {
    this.loadingOlder = true;
    this.emit('older', undefined);
    const oldest = this.timeline.oldestMessageSeq();
    try {
      const page = await this.ctx.client.history(this.groupId, { limit: 50, ...(oldest !== undefined ? { before: oldest } : {}) });
      const added = this.timeline.addHistory(page.messages);
      this.hasMore = page.hasMore;
      if (added.length) this.emit('rows', { seqs: added });
    } catch (err) {
      this.emit('error', describeError(err));
    } finally {
      this.loadingOlder = false;
    }
    this.emit('older', undefined);
  }

  /** Applies a live event: to the timeline, and what it implies (names, the title, counts to fetch). */
  private apply(e: GroupEvent) {
    const change = this.timeline.apply(e);
    if (e.kind === 'member') void this.ctx.names.loadGroup(this.groupId, true).catch(() => undefined);
    if (e.kind === 'group' && typeof e.changes.name === 'string') this.emit('title', e.changes.name);
    if (change.refetchCounts !== undefined) void this.refreshCounts(change.refetchCounts);
    if (e.kind === 'message' && e.sender === this.me) this.emit('pending', { stick: true });
    this.emit('rows', { seqs: change.changed, live: e });
  }

  /** A poll's or event's counts and the user's own answer, fetched again (after a vote or an answer). */
  async refreshCounts(seq: number): Promise<void> {
    if (this.refreshing.has(seq)) return;
    this.refreshing.add(seq);
    try {
      const item = this.timeline.get(seq);
      const answer = item?.poll
        ? await this.ctx.client.votes(this.groupId, seq)
        : item?.event
          ? await this.ctx.client.rsvps(this.groupId, seq)
          : undefined;
      if (answer) this.emit('rows', { seqs: this.timeline.setCounts(seq, answer) });
    } catch {
      // Gone meanwhile, or offline: the counts shown stay.
    } finally {
      this.refreshing.delete(seq);
    }
  }
  vote(seq: number, options: number[]): void {
    void this.ctx.client.vote(this.groupId, seq, options).then(
      () => this.refreshCounts(seq),
      (err: unknown) => this.emit('error', describeError(err)),
    );
  }
  answer(seq: number, answer: Answer | null): void {
    if (!answer) return;
    void this.ctx.client.rsvp(this.groupId, seq, answer).then(
      () => this.refreshCounts(seq),
      (err: unknown) => this.emit('error', describeError(err)),
    );
  }
  react(seq: number, emoji: string | null): void {
    this.ctx.client.react(this.groupId, seq, emoji).catch((err: unknown) => this.emit('error', describeError(err)));
  }
  /** The user's reaction toggled: the same emoji again takes it back. */
  toggleReaction(seq: number, emoji: string): void {
    this.react(seq, this.timeline.myReaction(seq) === emoji ? null : emoji);
  }
  pin(seq: number, pinned: boolean): void {
    const { client } = this.ctx;
    void (pinned ? client.unpin(this.groupId, seq) : client.pin(this.groupId, seq)).catch((err: unknown) =>
      this.emit('error', describeError(err)),
    );
  }

  /** Who is online, in small ordinary and direct groups (docs/protocol.md §8 "Profiles and presence"). */
  async loadPresence(): Promise<void> {
    const g = this.ctx.client.group(this.groupId);
    if (!g || g.kind === 'announcement') return;
    try {
      for (const p of await this.ctx.client.presence(this.groupId)) this.presence.set(p.user, { online: p.online, lastSeen: p.lastSeen });
      this.emit('presence', undefined);
    } catch {
      // A large group shows no presence (400): nothing to show.
    }
  }
  /** The newest announcements' reach, fetched once when the conversation opens (admins only). */
  async loadReach(): Promise<void> {
    const g = this.ctx.client.group(this.groupId);
    if (!(g?.kind === 'announcement' && (g.role === 'owner' || g.role === 'admin'))) return;
    const recent = this.timeline
      .latestMessages()
      .filter((i) => i.text !== null)
      .slice(0, 10);
    for (const item of recent) {
      const r = await this.ctx.client.stats(this.groupId, item.seq).catch(() => undefined);
      if (r) {
        this.reach.set(item.seq, r);
        this.emit('rows', { seqs: [item.seq] });
      }
    }
  }

  /**
   * Read markers of the others: "Seen by n of m" under the user's own last message. Fetched when
   * something suggests it changed (the conversation opens or comes back into view, a message or
   * typing from someone else) or when tapped; never on a timer.
   */
  refreshReceipt(): Promise<void> {
    this.receiptFetch ??= this.fetchReceipt().finally(() => (this.receiptFetch = undefined));
    return this.receiptFetch;
  }
  private async fetchReceipt() {
    const [last] = this.timeline.latestMessages(1);
    if (!last || last.sender !== this.me || this.group()?.kind === 'announcement') return this.emit('receipt', null);
    try {
      const { readBy, memberCount } = await this.ctx.http.receipts(this.groupId, last.seq);
      // The sender's own marker passed their message when it arrived on screen.
      const others = Math.max(0, memberCount - 1);
      this.emit('receipt', others === 0 ? null : { count: Math.min(others, Math.max(0, readBy - 1)), of: others });
    } catch {
      this.emit('receipt', null);
    }
  }
  markRead(): void {
    this.ctx.client.markRead(this.groupId);
    if (this.loaded) void this.refreshReceipt();
  }

  /** Keeps the latest 50 messages on this device (offline.ts). */
  save(title: string): void {
    const g = this.group();
    if (!g) return;
    const recent = this.timeline.latestMessages(50) as SavedMessage[];
    offline.saveConversation(this.me, { id: g.id, kind: g.kind, name: title || g.name, communityId: g.communityId, role: g.role }, recent);
  }

  private subscribe(): (() => void)[] {
    const { client, names } = this.ctx;
    const mine = (group: string) => group === this.groupId;
    return [
      client.on('event', (e) => {
        if (!mine(e.group)) return;
        if (!this.loaded) return void this.early.push(e);
        if (e.kind === 'message' && this.typers.has(e.sender)) this.stopTyping(e.sender);
        this.apply(e);
      }),
      client.on('pending', (p) => {
        if (!mine(p.group)) return;
        this.pending = p.messages;
        if (this.loaded) this.emit('pending', { stick: true });
      }),
      client.on('typing', (tf) => {
        if (!mine(tf.group)) return;
        clearTimeout(this.typers.get(tf.user));
        this.typers.set(
          tf.user,
          setTimeout(() => this.stopTyping(tf.user), 4000),
        );
        this.emit('typing', undefined);
        if (this.loaded) void this.refreshReceipt(); // someone is here: they may have read the latest
      }),
      client.on('group', (g) => g.id === this.groupId && this.loaded && this.emit('pins', undefined)),
      client.on('presence', (p) => {
        // Frames come for everyone who shares a small group with the user: keep this group's.
        if (!this.presence.has(p.user) && !names.membersOf(this.groupId).includes(p.user)) return;
        this.presence.set(p.user, { online: p.online, lastSeen: p.lastSeen });
        this.emit('presence', undefined);
      }),
      client.on('expired', ({ group, seqs }) => {
        if (!mine(group)) return;
        this.emit('rows', { seqs: this.timeline.expire(seqs) });
        this.emit('pins', undefined);
      }),
      client.on('stats', (s) => {
        if (!mine(s.group) || !this.loaded) return;
        this.reach.set(s.seq, s);
        this.emit('rows', { seqs: [s.seq] });
      }),
      client.on('state', () => this.loaded && this.emit('pending', { stick: false })),
    ];
  }
  private stopTyping(user: string) {
    clearTimeout(this.typers.get(user));
    this.typers.delete(user);
    this.emit('typing', undefined);
  }
  /** The pending sends not yet back as messages. */
  unconfirmed(): PendingMessage[] {
    const seen = this.timeline.clientMsgIds();
    return this.pending.filter((p) => !seen.has(p.clientMsgId));
  }
  /** Messages' attachment ids still shown (the others' blob URLs can go). */
  attachmentIds(): Set<string> {
    return new Set(this.timeline.items().flatMap((i: TimelineItem) => (i.text === null ? [] : i.attachments.map((a) => a.id))));
  }

  dispose(): void {
    for (const off of this.offs) off();
    for (const timer of this.typers.values()) clearTimeout(timer);
    this.typers.clear();
  }
}
