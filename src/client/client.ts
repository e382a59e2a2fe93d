import type { CommandBody, CommandType, EventInput, PollInput, RsvpAnswer, SendInput } from '../protocol/commands.js';
import type { FrameOf, GroupEvent, HistoryMessageFrame, ReplyTo } from '../protocol/server-frames.js';
import { Connection, stopError, type ConnectionState, type PushedFrame, type WebSocketConstructor } from './connection.js';
import { Emitter } from './emitter.js';
import { BanyanError } from './errors.js';
import { GroupTracker, type GroupState } from './group-tracker.js';
import { BanyanHttp, type Fetch, type PushSubscriptionLike } from './http.js';
import { OutgoingQueue, type PendingMessage, type SendAck } from './outgoing.js';
import type { SessionTokens } from './tokens.js';

// The Banyan client: one socket, resumed after every disconnect so that each group's events
// reach the app once each and in seq order (docs/protocol.md §1–2.4). Browser and Node 20 alike:
// it uses the global WebSocket and fetch, or the ones given (Node 20: `WebSocket` from `ws`).
// This class wires its parts together: the connection, the groups it follows, the sends queued.

export type { ConnectionState, WebSocketConstructor, WebSocketLike } from './connection.js';
export type { GroupState } from './group-tracker.js';
export type { PendingMessage, SendAck } from './outgoing.js';
export type { SessionTokens } from './tokens.js';

export interface ClientOptions {
  /** The server's base URL, e.g. `http://localhost:8080`; the socket is `<url>/v1/ws`. */
  url: string;
  /** A token, or a function called on every (re)connect for a fresh one. */
  token: string | (() => string | Promise<string>);
  /**
   * The refresh token of a sign-in with `refresh: true` (docs/protocol.md §2 "Sessions and refresh
   * tokens"), with a string `token`: the access token is refreshed before it expires, after a 401
   * and after a close 4401, for HTTP calls and the socket alike, without the app noticing.
   */
  refreshToken?: string;
  /** The access token's `expiresAt` from the sign-in (so it is refreshed ahead of time). */
  expiresAt?: string;
  /** Each new token pair: persist it, the refresh token it replaces stops working. */
  onTokens?: (tokens: SessionTokens) => void;
  /** The pair as the app stores it now, read before each refresh (tabs sharing one session). */
  storedTokens?: () => SessionTokens | undefined;
  /** Node 20 has no global WebSocket: pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  fetch?: Fetch;
  reconnect?: { baseMs?: number; maxMs?: number };
  /** App-level ping, so a dead network is noticed even without a close. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** On first sight of a group, how many of its latest events to fetch (at least those unread). */
  initialBacklog?: number;
  /** Last seen seq per group, e.g. persisted by the app; resumes from there instead. */
  cursors?: Record<string, number>;
  /** Makes clientMsgIds; defaults to random UUIDs. */
  newClientMsgId?: () => string;
  random?: () => number;
}

export interface ClientEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** Connected and caught up on every group. */
  ready: { user: { id: string; name: string }; groups: GroupState[] };
  /** An event of a group, once, in seq order. */
  event: GroupEvent;
  typing: FrameOf<'typing'>;
  /** A group joined, or its summary changed (a rename, its pins). */
  group: GroupState;
  /** Disappearing messages of a group ran out and were erased: drop their text and files. */
  expired: { group: string; seqs: number[] };
  group_removed: { group: string };
  /** Someone invited this user to a group (accept or decline with `http`). */
  group_invited: FrameOf<'group_invited'>;
  /** A community's roster changed (to its admins; to a member, their own role). */
  member_changed: FrameOf<'member_changed'>;
  unread: { group: string; unread: number; readSeq: number };
  /** For community admins: someone asked to join the community or one of its groups. */
  join_request: FrameOf<'join_request'>;
  /** For admins: a message was reported, or a report was resolved (its `status` says). */
  report: FrameOf<'report'>;
  /** The pending (unacknowledged) sends of a group changed. */
  pending: { group: string; messages: PendingMessage[] };
  /** A non-fatal problem: an error frame without a command, an unreadable frame. */
  error: BanyanError;
  /** The client stopped for good: closed by the app, token refused, or session revoked. */
  closed: { code: number; reason: string };
  /** An announcement's reach changed (you are an admin of its group); at most once a second per message. */
  stats: FrameOf<'stats'>;
  /** Someone you may see (or you, from another session) changed their name or avatar. */
  user: FrameOf<'user'>['user'];
  /** Someone who shares a small ordinary or direct group with you came online or went offline. */
  presence: FrameOf<'presence'>;
}

/** At most this many groups per `sync` (docs/protocol.md §3). */
const SYNC_CHUNK = 1000;
const TYPING_EVERY_MS = 3000;

export class BanyanClient extends Emitter<ClientEvents> {
  readonly http: BanyanHttp;
  private readonly connection: Connection;
  private readonly groupsTracked: GroupTracker;
  private readonly outgoing: OutgoingQueue;
  private readonly requestTimeoutMs: number;
  private readonly newClientMsgId: () => string;
  private readonly typingSentAt = new Map<string, number>();
  private me: { id: string; name: string } | undefined;

  constructor(options: ClientOptions) {
    super();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.newClientMsgId = options.newClientMsgId ?? randomId;
    this.http = new BanyanHttp({
      url: options.url,
      token: options.token,
      refreshToken: options.refreshToken,
      expiresAt: options.expiresAt,
      onTokens: options.onTokens,
      storedTokens: options.storedTokens,
      fetch: options.fetch,
    });
    const keeper = this.http.tokens;
    this.connection = new Connection(
      {
        url: options.url,
        token: keeper ? () => keeper.current() : options.token,
        renew: keeper ? (refused) => keeper.refused(refused) : undefined,
        WebSocket: options.WebSocket,
        reconnect: options.reconnect,
        pingIntervalMs: options.pingIntervalMs ?? 25_000,
        pingTimeoutMs: options.pingTimeoutMs ?? 10_000,
        random: options.random ?? Math.random,
      },
      {
        state: (state) => this.emit('state', state),
        frame: (frame) => this.onFrame(frame),
        lost: () => {
          this.groupsTracked.abandonSyncs();
          this.outgoing.requeue();
        },
        stopped: (code, reason, error) => {
          this.http.tokens?.stop();
          this.outgoing.fail(error);
          this.emit('closed', { code, reason });
        },
        error: (error) => this.emit('error', error),
      },
    );
    keeper?.onRenewed((token) => this.connection.renew(token));
    this.groupsTracked = new GroupTracker(
      { initialBacklog: options.initialBacklog ?? 500, cursors: options.cursors, self: () => this.me?.id },
      {
        event: (e) => this.emit('event', e),
        group: (state) => this.emit('group', state),
        expired: (change) => this.emit('expired', change),
        unread: (change) => this.emit('unread', change),
        gap: (group) => this.syncGroups([group]),
      },
    );
    this.outgoing = new OutgoingQueue({
      live: () => this.connection.live,
      connection: () => this.connection.socket,
      send: (m) =>
        this.request({
          type: 'send',
          group: m.group,
          clientMsgId: m.clientMsgId,
          text: m.text,
          ...(m.replyTo !== null ? { replyTo: m.replyTo } : {}),
          ...(m.mentions.length > 0 ? { mentions: m.mentions } : {}),
          ...(m.attachments?.length ? { attachments: m.attachments } : {}),
          ...(m.poll ? { poll: m.poll } : {}),
          ...(m.event ? { event: m.event } : {}),
        }),
      pending: (change) => this.emit('pending', change),
    });
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The signed-in user, once the first `ready` arrived. */
  get user(): { id: string; name: string } | undefined {
    return this.me;
  }

  /**
   * Opens the connection (and keeps it open, reconnecting, until `close()`); resolves once
   * connected and caught up on every group, rejects if the client stops first.
   */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
    if (this.state === 'ready') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => {
      const offReady = this.on('ready', () => {
        offReady();
        offClosed();
        resolve();
      });
      const offClosed = this.on('closed', ({ code, reason }) => {
        offReady();
        offClosed();
        reject(stopError(code, reason));
      });
    });
    this.connection.start();
    return ready;
  }

  /** Stops for good: no reconnect; pending sends and requests fail with `unavailable`. */
  close(): void {
    this.connection.stop(1000, 'closed by the client');
  }

  groups(): GroupState[] {
    return this.groupsTracked.states();
  }

  group(id: string): GroupState | undefined {
    return this.groupsTracked.state(id);
  }

  /**
   * Sends a message; retried across reconnects with one clientMsgId until acknowledged. With
   * `attachments` (ids from `http.upload`), a `poll` or an `event`, `text` may be empty.
   */
  send(
    group: string,
    text: string,
    extra: Partial<Pick<SendInput, 'replyTo' | 'mentions' | 'clientMsgId' | 'attachments' | 'poll' | 'event'>> = {},
  ): Promise<SendAck> {
    if (this.state === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
    return this.outgoing.add({
      group,
      clientMsgId: extra.clientMsgId ?? this.newClientMsgId(),
      text,
      replyTo: extra.replyTo ?? null,
      mentions: extra.mentions ?? [],
      ...(extra.attachments?.length ? { attachments: extra.attachments } : {}),
      ...(extra.poll ? { poll: extra.poll } : {}),
      ...(extra.event ? { event: extra.event } : {}),
    });
  }

  /** Sends a poll (2–12 options; `multiple` lets members pick several). */
  sendPoll(group: string, poll: PollInput, extra: { text?: string; clientMsgId?: string } = {}): Promise<SendAck> {
    return this.send(group, extra.text ?? '', { poll, ...(extra.clientMsgId ? { clientMsgId: extra.clientMsgId } : {}) });
  }

  /** Sends an event (instants with their offset, e.g. `2026-12-05T09:00:00+05:30`). */
  sendEvent(group: string, event: EventInput, extra: { text?: string; clientMsgId?: string } = {}): Promise<SendAck> {
    return this.send(group, extra.text ?? '', { event, ...(extra.clientMsgId ? { clientMsgId: extra.clientMsgId } : {}) });
  }

  /**
   * Votes on a poll by option index (one for a single-choice poll); a new vote replaces the last,
   * `[]` retracts it. The ack has a `seq` when a `vote` event was appended (not in announcement groups).
   */
  vote(group: string, target: number, options: number[]) {
    return this.request({ type: 'vote', group, target, options });
  }

  /** Answers an event: going, maybe or no (until it is over). */
  rsvp(group: string, target: number, answer: RsvpAnswer) {
    return this.request({ type: 'rsvp', group, target, answer });
  }

  /** Ends voting on a poll (its author or an admin); a `poll_closed` event with the final counts follows. */
  closePoll(group: string, seq: number) {
    return this.http.closePoll(group, seq);
  }

  /** A poll's counts and your vote; who voted for what outside announcement groups. */
  votes(group: string, seq: number) {
    return this.http.votes(group, seq);
  }

  /** An event's answer counts and yours; who answered what outside announcement groups. */
  rsvps(group: string, seq: number) {
    return this.http.rsvps(group, seq);
  }

  /** The sends of a group not yet acknowledged (and those refused), oldest first. */
  pending(group: string): PendingMessage[] {
    return this.outgoing.pending(group);
  }

  /** Gives up a pending send; its promise fails with `conflict`. A send already on the wire may still land. */
  cancel(group: string, clientMsgId: string): void {
    this.outgoing.cancel(group, clientMsgId);
  }

  /** Messages before `before` (newest first), as they now stand. */
  async history(
    group: string,
    options: { before?: number; limit?: number } = {},
  ): Promise<{ messages: HistoryMessageFrame[]; hasMore: boolean }> {
    const reply = await this.request({ type: 'history', group, ...options });
    return { messages: reply.messages, hasMore: reply.hasMore };
  }

  /** Pages back through a group's history, newest first, until its beginning. */
  async *historyPages(group: string, options: { before?: number; limit?: number } = {}) {
    let before = options.before;
    for (;;) {
      const page = await this.history(group, {
        ...(before !== undefined ? { before } : {}),
        ...(options.limit ? { limit: options.limit } : {}),
      });
      if (page.messages.length > 0) yield page.messages;
      if (!page.hasMore || page.messages.length === 0) return;
      before = page.messages[page.messages.length - 1]!.seq;
    }
  }

  /** Reacts to a message with one emoji, or takes the reaction back (`null`). */
  async react(group: string, target: number, emoji: string | null): Promise<void> {
    await this.request({ type: 'react', group, target, emoji });
  }

  /** Moves the read marker to `seq` (default: the last delivered event); never backwards. */
  markRead(group: string, seq?: number): void {
    if (this.groupsTracked.markRead(group, seq)) this.flushRead(group);
  }

  /** Tells the others the user is typing; at most one frame per group every 3 seconds. */
  typing(group: string): void {
    const now = Date.now();
    if (this.state !== 'ready' || now - (this.typingSentAt.get(group) ?? 0) < TYPING_EVERY_MS) return;
    this.typingSentAt.set(group, now);
    this.connection.send({ type: 'typing', group });
  }

  /** Pins a message (group admins; either member of a direct group); at most 5 per group. */
  async pin(group: string, seq: number): Promise<void> {
    await this.request({ type: 'pin', group, target: seq });
  }

  async unpin(group: string, seq: number): Promise<void> {
    await this.request({ type: 'unpin', group, target: seq });
  }

  /**
   * Turns disappearing messages on (86400, 604800 or 7776000 seconds) or off (null) for messages
   * sent from now on (group admins; either member of a direct group).
   */
  setMessageTtl(group: string, messageTtlS: number | null) {
    return this.http.updateGroup(group, { settings: { messageTtlS } });
  }

  /** Registers this device for Web Push (a browser's `PushSubscription.toJSON()`); answers the subscription id. */
  async subscribePush(subscription: PushSubscriptionLike): Promise<string> {
    return (await this.http.subscribePush(subscription)).id;
  }

  /** Your notification level in a group, and optionally a mute until an ISO time. */
  setNotifications(group: string, level: 'all' | 'mentions' | 'none', muteUntil?: string | null): Promise<void> {
    return this.http.setNotifications(group, { level, ...(muteUntil !== undefined ? { muteUntil } : {}) });
  }

  /** An announcement's reach (group admins); live changes arrive as `stats` events. */
  stats(group: string, seq: number) {
    return this.http.messageStats(group, seq);
  }

  /** A user's profile `{id, name, avatar}` if they share a visible group with you; live changes arrive as `user` events. */
  async profile(userId: string) {
    return (await this.http.user(userId)).user;
  }

  /** Changes your name or avatar (an image attachment you uploaded, or null); answers your profile as others see it. */
  async updateProfile(changes: { name?: string; avatar?: string | null }) {
    const { user } = await this.http.updateProfile(changes);
    if (this.me) this.me = { ...this.me, name: user.name };
    return { id: user.id, name: user.name, avatar: user.avatar };
  }

  /** Who of a small ordinary or direct group's members is online now; live changes arrive as `presence` events. */
  async presence(group: string) {
    return (await this.http.groupPresence(group)).presence;
  }

  /** One command and its reply; waits for the connection (up to the request timeout). */
  request<T extends CommandType>(command: { type: T } & CommandBody<T>, timeoutMs = this.requestTimeoutMs): Promise<ReplyTo<T>> {
    return this.connection.request<T>(command, timeoutMs);
  }

  private onFrame(frame: PushedFrame): void {
    switch (frame.type) {
      case 'ready':
        this.onReady(frame);
        return;
      case 'event':
        this.groupsTracked.accept(frame);
        return;
      case 'typing':
        if (this.groupsTracked.has(frame.group)) this.emit('typing', frame);
        return;
      case 'expired':
        this.groupsTracked.expired(frame.group, frame.seqs);
        return;
      case 'group_added':
        this.groupsTracked.track(frame.group);
        this.syncGroups([frame.group.id]);
        this.emit('group', this.group(frame.group.id)!);
        return;
      case 'group_removed':
        this.untrack(frame.group);
        return;
      case 'read':
        this.groupsTracked.readElsewhere(frame.group, frame.seq);
        return;
      case 'group_invited':
        this.emit('group_invited', frame);
        return;
      case 'member_changed':
        this.emit('member_changed', frame);
        return;
      case 'synced':
        this.onSynced(frame);
        return;
      case 'join_request':
      case 'report':
        this.emit(frame.type, frame as never);
        break;
      case 'stats':
        this.emit('stats', frame);
        return;
      case 'user':
        if (this.me && frame.user.id === this.me.id) this.me = { ...this.me, name: frame.user.name };
        this.emit('user', frame.user);
        return;
      case 'presence':
        this.emit('presence', frame);
        return;
    }
  }

  private onReady(frame: FrameOf<'ready'>): void {
    this.me = frame.user;
    const listed = new Set(frame.groups.map((g) => g.id));
    for (const id of this.groupsTracked.ids()) if (!listed.has(id)) this.untrack(id);
    for (const summary of frame.groups) this.groupsTracked.track(summary);
    this.connection.authenticated();
    for (const group of this.groupsTracked.ids()) this.flushRead(group);
    this.outgoing.resume();
    this.syncGroups(this.groupsTracked.ids());
  }

  private untrack(group: string): void {
    if (!this.groupsTracked.untrack(group)) return;
    this.outgoing.fail(new BanyanError('not_found', 'group not found'), group);
    this.emit('group_removed', { group });
    this.maybeReady();
  }

  /** Asks for the events after each group's cursor; repeats while the server says hasMore. */
  private syncGroups(groups: string[]): void {
    const cursors = this.groupsTracked.startSync(groups);
    const ids = Object.keys(cursors);
    if (ids.length === 0) {
      this.maybeReady();
      return;
    }
    for (let i = 0; i < ids.length; i += SYNC_CHUNK) {
      const chunk = ids.slice(i, i + SYNC_CHUNK);
      const socket = this.connection.socket;
      this.request({ type: 'sync', groups: Object.fromEntries(chunk.map((id) => [id, cursors[id]!])) }).catch((err: BanyanError) => {
        if (this.connection.socket !== socket) return; // the reconnect syncs again
        for (const id of chunk) this.groupsTracked.endSync(id);
        this.emit('error', err);
        this.maybeReady();
        // A read budget spent says when it refills: wait that long, not the reconnect backoff.
        const after = Number(err.details?.retryAfterMs) || this.connection.retryDelay();
        if (err.code !== 'not_found') setTimeout(() => this.syncGroups(chunk), after);
      });
    }
  }

  private onSynced(frame: FrameOf<'synced'>): void {
    const again: string[] = [];
    for (const [id, page] of Object.entries(frame.groups)) {
      this.groupsTracked.endSync(id);
      for (const event of page.events) this.groupsTracked.accept(event);
      if (this.groupsTracked.behind(id, page.hasMore)) again.push(id);
    }
    this.syncGroups(again);
  }

  private maybeReady(): void {
    if (this.state !== 'syncing' || !this.groupsTracked.synced) return;
    this.connection.caughtUp();
    this.emit('ready', { user: this.me!, groups: this.groups() });
  }

  private flushRead(group: string): void {
    const seq = this.groupsTracked.readToSend(group);
    if (seq === 0 || !this.connection.live) return;
    this.request({ type: 'read', group, seq }).then(
      () => this.groupsTracked.readSent(group, seq),
      (err: BanyanError) => {
        if (err.code !== 'unavailable') this.groupsTracked.readSent(group, Infinity); // refused for good; a reconnect retries the rest
      },
    );
  }
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
