import {
  parseServerFrame,
  type FrameOf,
  type GroupEvent,
  type GroupSummaryFrame,
  type HistoryMessageFrame,
  type ServerFrame,
} from '../protocol/server-frames.js';
import { Backoff } from './backoff.js';
import { Emitter } from './emitter.js';
import { BanyanError } from './errors.js';
import { GroupCursor } from './group-cursor.js';
import { BanyanHttp, type Fetch } from './http.js';

// The Banyan client: one socket, resumed after every disconnect so that each group's events
// reach the app once each and in seq order (PROTOCOL.md §2.2–2.4). Browser and Node 20 alike:
// it uses the global WebSocket and fetch, or the ones given (Node 20: `WebSocket` from `ws`).

/** A handler property, bivariant in its event (as DOM typings are) so `ws`'s socket fits. */
type Handler<E> = { bivariance(event: E): void }['bivariance'] | null;

/** The part of the WebSocket API the client uses; the browser's and `ws`'s both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ClientOptions {
  /** The server's base URL, e.g. `http://localhost:8080`; the socket is `<url>/v1/ws`. */
  url: string;
  /** A token, or a function called on every (re)connect for a fresh one. */
  token: string | (() => string | Promise<string>);
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

export type ConnectionState = 'idle' | 'connecting' | 'syncing' | 'ready' | 'reconnecting' | 'closed';

export interface GroupState {
  id: string;
  kind: GroupSummaryFrame['kind'];
  name: string;
  communityId: string | null;
  role: GroupSummaryFrame['role'];
  /** The last seq delivered to the app. */
  lastSeq: number;
  /** The user's read marker. */
  readSeq: number;
  /** Messages by others after the read marker. */
  unread: number;
}

export interface PendingMessage {
  group: string;
  clientMsgId: string;
  text: string;
  replyTo: number | null;
  mentions: string[];
  /** `failed` sends were refused for good (see `error`); the others are still being tried. */
  status: 'queued' | 'sending' | 'failed';
  error?: BanyanError;
}

export interface SendAck {
  group: string;
  seq: number;
  ts: string;
  clientMsgId: string;
}

export interface ClientEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** Connected and caught up on every group. */
  ready: { user: { id: string; name: string }; groups: GroupState[] };
  /** An event of a group, once, in seq order. */
  event: GroupEvent;
  typing: FrameOf<'typing'>;
  /** A group joined, or its summary changed. */
  group: GroupState;
  group_removed: { group: string };
  unread: { group: string; unread: number; readSeq: number };
  /** The pending (unacknowledged) sends of a group changed. */
  pending: { group: string; messages: PendingMessage[] };
  /** A non-fatal problem: an error frame without a command, an unreadable frame. */
  error: BanyanError;
  /** The client stopped for good: closed by the app, token refused, or session revoked. */
  closed: { code: number; reason: string };
}

interface Outgoing extends PendingMessage {
  resolve(ack: SendAck): void;
  reject(error: BanyanError): void;
  inFlight: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  retries: number;
}

interface TrackedGroup {
  summary: GroupSummaryFrame;
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

interface InFlight {
  resolve(frame: ServerFrame): void;
  reject(error: BanyanError): void;
  timer: ReturnType<typeof setTimeout>;
}

const WS_OPEN = 1;
const AUTH_ID = 'auth';
/** Close codes after which reconnecting cannot help (PROTOCOL.md §4). */
const REVOKED = 4403;
const UNAUTHORIZED = 4401;

export class BanyanClient extends Emitter<ClientEvents> {
  readonly http: BanyanHttp;
  private readonly opts: Required<Omit<ClientOptions, 'WebSocket' | 'fetch' | 'cursors' | 'reconnect'>> & ClientOptions;
  private ws: WebSocketLike | undefined;
  private connectionState: ConnectionState = 'idle';
  private readonly backoff: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readonly tracked = new Map<string, TrackedGroup>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly outgoing = new Map<string, Outgoing[]>();
  private readonly readyWaiters: { resolve(): void; reject(e: BanyanError): void }[] = [];
  private readonly typingSentAt = new Map<string, number>();
  private nextId = 1;
  private me: { id: string; name: string } | undefined;
  private syncing = new Set<string>();
  private removeOnlineListener: (() => void) | undefined;

  constructor(options: ClientOptions) {
    super();
    this.opts = {
      pingIntervalMs: 25_000,
      pingTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      initialBacklog: 500,
      newClientMsgId: randomId,
      random: Math.random,
      ...options,
    };
    this.backoff = new Backoff({
      baseMs: options.reconnect?.baseMs ?? 500,
      maxMs: options.reconnect?.maxMs ?? 30_000,
      random: this.opts.random,
    });
    this.http = new BanyanHttp({ url: options.url, token: options.token, fetch: options.fetch });
  }

  get state(): ConnectionState {
    return this.connectionState;
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
    if (this.connectionState === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
    if (this.connectionState === 'ready') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => {
      const offReady = this.on('ready', () => {
        offReady();
        offClosed();
        resolve();
      });
      const offClosed = this.on('closed', ({ code, reason }) => {
        offReady();
        offClosed();
        reject(new BanyanError(code === UNAUTHORIZED || code === REVOKED ? 'unauthorized' : 'unavailable', reason));
      });
    });
    if (this.connectionState === 'idle') {
      this.watchNetwork();
      this.open();
    }
    return ready;
  }

  /** Stops for good: no reconnect; pending sends and requests fail with `unavailable`. */
  close(): void {
    if (this.connectionState === 'closed') return;
    this.stop(1000, 'closed by the client');
  }

  groups(): GroupState[] {
    return [...this.tracked.keys()].map((id) => this.groupState(id)!);
  }

  group(id: string): GroupState | undefined {
    return this.groupState(id);
  }

  /** Sends a message; retried across reconnects with one clientMsgId until acknowledged. */
  send(group: string, text: string, extra: { replyTo?: number; mentions?: string[]; clientMsgId?: string } = {}): Promise<SendAck> {
    if (this.connectionState === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
    return new Promise<SendAck>((resolve, reject) => {
      const message: Outgoing = {
        group,
        clientMsgId: extra.clientMsgId ?? this.opts.newClientMsgId(),
        text,
        replyTo: extra.replyTo ?? null,
        mentions: extra.mentions ?? [],
        status: 'queued',
        inFlight: false,
        retries: 0,
        resolve,
        reject,
      };
      let queue = this.outgoing.get(group);
      if (!queue) this.outgoing.set(group, (queue = []));
      queue.push(message);
      this.emitPending(group);
      this.pump(group);
    });
  }

  /** The sends of a group not yet acknowledged (and those refused), oldest first. */
  pending(group: string): PendingMessage[] {
    return (this.outgoing.get(group) ?? []).map(publicPending);
  }

  /** Gives up a pending send; its promise fails with `conflict`. A send already on the wire may still land. */
  cancel(group: string, clientMsgId: string): void {
    const queue = this.outgoing.get(group) ?? [];
    const i = queue.findIndex((m) => m.clientMsgId === clientMsgId);
    if (i < 0) return;
    const [m] = queue.splice(i, 1);
    clearTimeout(m!.retryTimer);
    m!.reject(new BanyanError('conflict', 'send cancelled'));
    this.emitPending(group);
    this.pump(group);
  }

  /** Messages before `before` (newest first), as they now stand. */
  async history(group: string, options: { before?: number; limit?: number } = {}): Promise<{ messages: HistoryMessageFrame[]; hasMore: boolean }> {
    const reply = await this.request<'history'>({ type: 'history', group, ...options });
    return { messages: reply.messages, hasMore: reply.hasMore };
  }

  /** Pages back through a group's history, newest first, until its beginning. */
  async *historyPages(group: string, options: { before?: number; limit?: number } = {}) {
    let before = options.before;
    for (;;) {
      const page = await this.history(group, { ...(before !== undefined ? { before } : {}), ...(options.limit ? { limit: options.limit } : {}) });
      if (page.messages.length > 0) yield page.messages;
      if (!page.hasMore || page.messages.length === 0) return;
      before = page.messages[page.messages.length - 1]!.seq;
    }
  }

  /** Moves the read marker to `seq` (default: the last delivered event); never backwards. */
  markRead(group: string, seq?: number): void {
    const g = this.tracked.get(group);
    if (!g) return;
    const target = Math.min(seq ?? g.cursor.seq, g.cursor.seq);
    if (target <= g.readSeq) return;
    this.setReadSeq(group, g, target);
    g.readToSend = Math.max(g.readToSend, target);
    this.flushRead(group, g);
  }

  /** Tells the others the user is typing; at most one frame per group every 3 seconds. */
  typing(group: string): void {
    const now = Date.now();
    if (this.connectionState !== 'ready' || now - (this.typingSentAt.get(group) ?? 0) < 3000) return;
    this.typingSentAt.set(group, now);
    this.write({ type: 'typing', id: this.newId(), group });
  }

  /** One command and its reply; waits for the connection (up to the request timeout). */
  async request<T extends ServerFrame['type']>(
    command: Record<string, unknown> & { type: string },
    timeoutMs = this.opts.requestTimeoutMs,
  ): Promise<FrameOf<T>> {
    const deadline = Date.now() + timeoutMs;
    await this.whenReady(timeoutMs);
    const id = this.newId();
    return new Promise<FrameOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inFlight.delete(id);
        reject(new BanyanError('unavailable', `no reply to ${command.type} in time`));
      }, Math.max(1, deadline - Date.now()));
      this.inFlight.set(id, {
        resolve: (frame) => resolve(frame as FrameOf<T>),
        reject,
        timer,
      });
      this.write({ ...command, id });
    });
  }

  // Connection

  private setState(state: ConnectionState): void {
    if (this.connectionState === state) return;
    this.connectionState = state;
    this.emit('state', state);
  }

  private open(): void {
    this.setState(this.connectionState === 'idle' ? 'connecting' : 'reconnecting');
    const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      this.stop(1006, 'no WebSocket implementation: pass the `ws` package as options.WebSocket');
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.opts.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/ws');
    } catch (err) {
      this.emit('error', new BanyanError('unavailable', `could not open the socket: ${String(err)}`));
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => void this.authenticate(ws);
    ws.onmessage = (event) => this.onFrame(typeof event.data === 'string' ? event.data : String(event.data));
    ws.onclose = (event) => this.onClose(ws, event.code, event.reason);
    // The close event follows every error; reconnecting happens there.
    ws.onerror = () => undefined;
  }

  private async authenticate(ws: WebSocketLike): Promise<void> {
    let token: string;
    try {
      token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
    } catch (err) {
      this.emit('error', new BanyanError('unauthorized', `no token: ${String(err)}`));
      this.drop(ws);
      return;
    }
    if (this.ws === ws && ws.readyState === WS_OPEN) ws.send(JSON.stringify({ type: 'auth', id: AUTH_ID, token }));
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.detach();
    if (code === REVOKED || (code === UNAUTHORIZED && typeof this.opts.token === 'string')) {
      this.stop(code, reason || (code === REVOKED ? 'session revoked' : 'token refused'));
      return;
    }
    this.scheduleReconnect();
  }

  /** Abandons a socket that looks dead (no pong) and reconnects without waiting for its close. */
  private drop(ws: WebSocketLike): void {
    if (this.ws !== ws) return;
    this.detach();
    try {
      ws.close(4000, 'client gave up on this connection');
    } catch (err) {
      this.emit('error', new BanyanError('unavailable', `close failed: ${String(err)}`));
    }
    this.scheduleReconnect();
  }

  /** Forgets the current socket: in-flight requests fail; sends go back to the queue. */
  private detach(): void {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    clearInterval(this.pingTimer);
    this.syncing.clear();
    for (const [id, request] of this.inFlight) {
      clearTimeout(request.timer);
      request.reject(new BanyanError('unavailable', 'connection lost'));
      this.inFlight.delete(id);
    }
    for (const [group, queue] of this.outgoing) {
      for (const m of queue) m.inFlight = false;
      if (queue.some((m) => m.status === 'sending')) {
        for (const m of queue) if (m.status === 'sending') m.status = 'queued';
        this.emitPending(group);
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.connectionState === 'closed') return;
    this.setState('reconnecting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), this.backoff.next());
  }

  private stop(code: number, reason: string): void {
    const ws = this.ws;
    this.detach();
    ws?.close(1000, reason);
    clearTimeout(this.reconnectTimer);
    this.removeOnlineListener?.();
    this.setState('closed');
    const error = new BanyanError(code === REVOKED || code === UNAUTHORIZED ? 'unauthorized' : 'unavailable', reason);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    for (const [group, queue] of this.outgoing) {
      for (const m of queue) {
        clearTimeout(m.retryTimer);
        m.reject(error);
      }
      this.outgoing.delete(group);
      this.emitPending(group);
    }
    this.emit('closed', { code, reason });
  }

  /** In a browser, coming back online reconnects at once instead of waiting out the backoff. */
  private watchNetwork(): void {
    const target = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const online = () => {
      if (this.connectionState !== 'reconnecting' || this.ws) return;
      clearTimeout(this.reconnectTimer);
      this.open();
    };
    target.addEventListener('online', online);
    this.removeOnlineListener = () => target.removeEventListener!('online', online);
  }

  private whenReady(timeoutMs: number): Promise<void> {
    if (this.connectionState === 'ready' || this.connectionState === 'syncing') return Promise.resolve();
    if (this.connectionState === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.readyWaiters.push(waiter);
      if (timeoutMs !== Infinity) {
        setTimeout(() => {
          const i = this.readyWaiters.indexOf(waiter);
          if (i < 0) return;
          this.readyWaiters.splice(i, 1);
          reject(new BanyanError('unavailable', 'not connected'));
        }, timeoutMs);
      }
    });
  }

  private write(frame: Record<string, unknown>): void {
    if (this.ws?.readyState === WS_OPEN) this.ws.send(JSON.stringify(frame));
  }

  private newId(): string {
    return `c${this.nextId++}`;
  }

  // Frames

  private onFrame(text: string): void {
    const frame = parseServerFrame(text);
    if (!frame) {
      this.emit('error', new BanyanError('bad_request', `unreadable frame from the server: ${text.slice(0, 200)}`));
      return;
    }
    switch (frame.type) {
      case 'ready':
        return this.onReady(frame);
      case 'event':
        return this.onEvent(frame);
      case 'typing':
        if (this.tracked.has(frame.group)) this.emit('typing', frame);
        return;
      case 'group_added':
        this.track(frame.group);
        this.syncGroups([frame.group.id]);
        this.emit('group', this.groupState(frame.group.id)!);
        return;
      case 'group_removed':
        return this.untrack(frame.group);
      case 'read': {
        const g = this.tracked.get(frame.group);
        if (g && frame.seq > g.readSeq) this.setReadSeq(frame.group, g, frame.seq);
        return;
      }
      case 'synced':
        this.onSynced(frame);
        break;
      case 'error':
        if (frame.re === AUTH_ID) {
          this.emit('error', new BanyanError(frame.code, frame.message, frame.details));
          return;
        }
        break;
    }
    if ('re' in frame && frame.re !== undefined) this.settle(frame);
    else if (frame.type === 'error') this.emit('error', new BanyanError(frame.code, frame.message, frame.details));
  }

  /** Resolves (or for `error`, rejects) the request the frame answers. */
  private settle(frame: ServerFrame & { re?: string | number | undefined }): void {
    const id = String(frame.re);
    const request = this.inFlight.get(id);
    if (!request) return;
    this.inFlight.delete(id);
    clearTimeout(request.timer);
    if (frame.type === 'error') request.reject(new BanyanError(frame.code, frame.message, frame.details));
    else request.resolve(frame);
  }

  private onReady(frame: FrameOf<'ready'>): void {
    this.me = frame.user;
    const listed = new Set(frame.groups.map((g) => g.id));
    for (const id of [...this.tracked.keys()]) if (!listed.has(id)) this.untrack(id);
    for (const summary of frame.groups) this.track(summary);
    this.backoff.reset();
    this.setState('syncing');
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    const ws = this.ws;
    this.pingTimer = setInterval(() => this.ping(ws), this.opts.pingIntervalMs);
    for (const [group, g] of this.tracked) this.flushRead(group, g);
    for (const group of this.outgoing.keys()) this.pump(group);
    this.syncGroups([...this.tracked.keys()]);
  }

  private ping(ws: WebSocketLike | undefined): void {
    if (!ws || this.ws !== ws) return;
    this.request<'pong'>({ type: 'ping' }, this.opts.pingTimeoutMs).catch(() => {
      // No pong in time on a socket that is still ours: the network is gone without a close.
      if (this.ws === ws) this.drop(ws);
    });
  }

  /** Asks for the events after each group's cursor; repeats while the server says hasMore. */
  private syncGroups(groups: string[]): void {
    const wanted = groups.filter((id) => {
      const g = this.tracked.get(id);
      return g && !this.syncing.has(id) && (g.cursor.seq < g.summary.lastSeq || g.cursor.hasGap);
    });
    if (wanted.length === 0) {
      this.maybeReady();
      return;
    }
    for (let i = 0; i < wanted.length; i += 1000) {
      const chunk = wanted.slice(i, i + 1000);
      const after = Object.fromEntries(chunk.map((id) => [id, this.tracked.get(id)!.cursor.seq]));
      for (const id of chunk) this.syncing.add(id);
      const ws = this.ws;
      this.request<'synced'>({ type: 'sync', groups: after }).catch((err: BanyanError) => {
        if (this.ws !== ws) return; // the reconnect syncs again
        for (const id of chunk) this.syncing.delete(id);
        this.emit('error', err);
        this.maybeReady();
        if (err.code !== 'not_found') setTimeout(() => this.syncGroups(chunk), this.backoff.next());
      });
    }
  }

  private onSynced(frame: FrameOf<'synced'>): void {
    const again: string[] = [];
    for (const [id, page] of Object.entries(frame.groups)) {
      this.syncing.delete(id);
      for (const event of page.events) this.onEvent(event);
      const g = this.tracked.get(id);
      if (g && (page.hasMore || g.cursor.hasGap)) again.push(id);
    }
    this.syncGroups(again);
  }

  private maybeReady(): void {
    if (this.connectionState !== 'syncing' || this.syncing.size > 0) return;
    this.setState('ready');
    this.emit('ready', { user: this.me!, groups: this.groups() });
  }

  private onEvent(event: GroupEvent): void {
    const g = this.tracked.get(event.group);
    if (!g) return;
    for (const e of g.cursor.accept(event)) {
      if (e.seq > g.summary.lastSeq) g.summary = { ...g.summary, lastSeq: e.seq };
      this.countUnread(e.group, g, e);
      if (e.kind === 'group' && typeof e.changes.name === 'string') {
        g.summary = { ...g.summary, name: e.changes.name };
        this.emit('event', e);
        this.emit('group', this.groupState(e.group)!);
        continue;
      }
      this.emit('event', e);
    }
    this.watchGap(event.group, g);
  }

  /** Live delivery is gapless, so a gap outside a sync is a lost frame: fill it from the log. */
  private watchGap(group: string, g: TrackedGroup): void {
    clearTimeout(g.gapTimer);
    if (!g.cursor.hasGap || this.syncing.has(group)) return;
    g.gapTimer = setTimeout(() => {
      if (g.cursor.hasGap) this.syncGroups([group]);
    }, 300);
  }

  // Groups and unread counts

  private track(summary: GroupSummaryFrame): void {
    const existing = this.tracked.get(summary.id);
    if (existing) {
      existing.summary = { ...summary, lastSeq: Math.max(summary.lastSeq, existing.cursor.seq) };
      if (summary.readSeq > existing.readSeq) this.setReadSeq(summary.id, existing, summary.readSeq);
      return;
    }
    const resumeAt = this.opts.cursors?.[summary.id];
    const start = resumeAt ?? Math.max(summary.readSeq, summary.lastSeq - this.opts.initialBacklog, 0);
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

  private untrack(group: string): void {
    const g = this.tracked.get(group);
    if (!g) return;
    clearTimeout(g.gapTimer);
    this.tracked.delete(group);
    this.syncing.delete(group);
    const queue = this.outgoing.get(group) ?? [];
    this.outgoing.delete(group);
    for (const m of queue) m.reject(new BanyanError('not_found', 'group not found'));
    if (queue.length > 0) this.emitPending(group);
    this.emit('group_removed', { group });
    this.maybeReady();
  }

  private countUnread(group: string, g: TrackedGroup, e: GroupEvent): void {
    let changed = false;
    if (e.kind === 'message' && e.sender !== this.me?.id && e.seq > g.readSeq && !e.deleted) {
      g.unreadSeqs.add(e.seq);
      changed = true;
    } else if (e.kind === 'delete') {
      changed = g.unreadSeqs.delete(e.target);
    }
    if (changed) this.emitUnread(group, g);
  }

  private setReadSeq(group: string, g: TrackedGroup, seq: number): void {
    g.readSeq = seq;
    for (const s of g.unreadSeqs) if (s <= seq) g.unreadSeqs.delete(s);
    this.emitUnread(group, g);
  }

  private unreadOf(g: TrackedGroup): number {
    const unfetched = Math.max(0, g.unfetched.to - Math.max(g.unfetched.from, g.readSeq));
    return g.unreadSeqs.size + unfetched;
  }

  private emitUnread(group: string, g: TrackedGroup): void {
    this.emit('unread', { group, unread: this.unreadOf(g), readSeq: g.readSeq });
  }

  private flushRead(group: string, g: TrackedGroup): void {
    if (g.readToSend === 0 || (this.connectionState !== 'ready' && this.connectionState !== 'syncing')) return;
    const seq = g.readToSend;
    this.request({ type: 'read', group, seq }).then(
      () => {
        if (g.readToSend === seq) g.readToSend = 0;
      },
      (err: BanyanError) => {
        if (err.code !== 'unavailable') g.readToSend = 0; // refused for good; a reconnect retries the rest
      },
    );
  }

  private groupState(id: string): GroupState | undefined {
    const g = this.tracked.get(id);
    if (!g) return undefined;
    const { kind, name, communityId, role } = g.summary;
    return { id, kind, name, communityId, role, lastSeq: g.cursor.seq, readSeq: g.readSeq, unread: this.unreadOf(g) };
  }

  // Sends: one in flight per group, so a group's messages are stored in the order they were sent.

  private pump(group: string): void {
    const queue = this.outgoing.get(group);
    const head = queue?.find((m) => m.status !== 'failed');
    if (!head || head.inFlight || head.retryTimer || this.connectionState === 'closed') return;
    if (this.connectionState !== 'ready' && this.connectionState !== 'syncing') return;
    head.inFlight = true;
    head.status = 'sending';
    this.emitPending(group);
    const ws = this.ws;
    this.request<'ack'>({
      type: 'send',
      group,
      clientMsgId: head.clientMsgId,
      text: head.text,
      ...(head.replyTo !== null ? { replyTo: head.replyTo } : {}),
      ...(head.mentions.length > 0 ? { mentions: head.mentions } : {}),
    }).then(
      (ack) => {
        this.finish(group, head);
        head.resolve({ group, seq: ack.seq ?? 0, ts: ack.ts ?? '', clientMsgId: head.clientMsgId });
      },
      (err: BanyanError) => {
        head.inFlight = false;
        if (this.ws !== ws && err.code === 'unavailable') return; // the reconnect resends it
        if (err.retryable) {
          head.status = 'queued';
          head.retries++;
          const after = Number(err.details?.retryAfterMs) || Math.min(30_000, 250 * 2 ** Math.min(head.retries, 7));
          head.retryTimer = setTimeout(() => {
            head.retryTimer = undefined;
            this.pump(group);
          }, after);
          this.emitPending(group);
          return;
        }
        head.status = 'failed';
        head.error = err;
        this.emitPending(group);
        head.reject(err);
        this.pump(group);
      },
    );
  }

  private finish(group: string, message: Outgoing): void {
    const queue = this.outgoing.get(group) ?? [];
    const i = queue.indexOf(message);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.outgoing.delete(group);
    this.emitPending(group);
    this.pump(group);
  }

  private emitPending(group: string): void {
    this.emit('pending', { group, messages: this.pending(group) });
  }
}

const publicPending = (m: Outgoing): PendingMessage => ({
  group: m.group,
  clientMsgId: m.clientMsgId,
  text: m.text,
  replyTo: m.replyTo,
  mentions: m.mentions,
  status: m.status,
  ...(m.error ? { error: m.error } : {}),
});

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
