import type { CommandBody, CommandType, Command } from '../protocol/commands.js';
import type { FrameOf, ReplyTo, ServerFrame } from '../protocol/server-frames.js';
import { readServerFrame } from './checks.js';
import { Backoff } from './backoff.js';
import { BanyanError } from './errors.js';

// One socket at a time, kept open until stopped: authenticates, reconnects with backoff, pings,
// and matches replies to requests by id. What the frames mean is the client's business.

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

export type ConnectionState = 'idle' | 'connecting' | 'syncing' | 'ready' | 'reconnecting' | 'closed';

/** Frames that only answer a request: they settle it and go no further. */
type ReplyOnly = 'ack' | 'history' | 'pong' | 'error';
/** Frames the client acts on (`synced` and `ready` also settle a request when they answer one). */
export type PushedFrame = Exclude<ServerFrame, { type: ReplyOnly }>;

export interface ConnectionOptions {
  url: string;
  token: string | (() => string | Promise<string>);
  /**
   * With a refresh token (client/tokens.ts): a fresh token after the server refused this one
   * (close 4401), instead of `token`. Rejects `unauthorized` when the session has ended.
   */
  renew?: ((refused: string) => Promise<string>) | undefined;
  WebSocket?: WebSocketConstructor | undefined;
  reconnect?: { baseMs?: number; maxMs?: number } | undefined;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  random: () => number;
}

export interface ConnectionHooks {
  state(state: ConnectionState): void;
  /** A frame to act on; `ready` starts a session, which the owner confirms with `authenticated()`. */
  frame(frame: PushedFrame): void;
  /** The socket is gone (requests on it have failed); a reconnect follows unless stopped. */
  lost(): void;
  /** Stopped for good, with the error that pending work fails with. */
  stopped(code: number, reason: string, error: BanyanError): void;
  /** A non-fatal problem: an error frame without a request, an unreadable frame, a failed close. */
  error(error: BanyanError): void;
}

interface InFlight {
  resolve(frame: ServerFrame): void;
  reject(error: BanyanError): void;
  timer: ReturnType<typeof setTimeout>;
}

const WS_OPEN = 1;
const AUTH_ID = 'auth';
/** Close codes after which reconnecting cannot help (docs/protocol.md §7). */
export const REVOKED = 4403;
export const UNAUTHORIZED = 4401;

export const stopError = (code: number, reason: string) =>
  new BanyanError(code === REVOKED || code === UNAUTHORIZED ? 'unauthorized' : 'unavailable', reason);

const frameError = (frame: FrameOf<'error'>) => new BanyanError(frame.code, frame.message, frame.details);

export class Connection {
  private ws: WebSocketLike | undefined;
  private current: ConnectionState = 'idle';
  private readonly backoff: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly readyWaiters: { resolve(): void; reject(e: BanyanError): void }[] = [];
  private nextId = 1;
  private removeOnlineListener: (() => void) | undefined;
  /** The token the last socket was authenticated with, and whether the server refused it (4401). */
  private lastToken: string | undefined;
  private tokenRefused = false;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.backoff = new Backoff({
      baseMs: options.reconnect?.baseMs ?? 500,
      maxMs: options.reconnect?.maxMs ?? 30_000,
      random: options.random,
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Authenticated on the current socket: commands may go out. */
  get live(): boolean {
    return this.current === 'ready' || this.current === 'syncing';
  }

  /** The current socket, to tell whether it changed while a request was out; undefined between sockets. */
  get socket(): unknown {
    return this.ws;
  }

  /** Opens the first socket; later ones open by themselves until `stop()`. */
  start(): void {
    if (this.current !== 'idle') return;
    this.watchNetwork();
    this.open();
  }

  /** The owner took the `ready` frame in: the session is up, and syncing. */
  authenticated(): void {
    this.backoff.reset();
    this.setState('syncing');
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    const ws = this.ws;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(ws), this.options.pingIntervalMs);
  }

  /** Caught up on every group. */
  caughtUp(): void {
    if (this.current === 'syncing') this.setState('ready');
  }

  /** Stops for good: no reconnect; requests and waiters fail. */
  stop(code: number, reason: string): void {
    if (this.current === 'closed') return;
    const ws = this.ws;
    this.detach();
    ws?.close(1000, reason);
    clearTimeout(this.reconnectTimer);
    this.removeOnlineListener?.();
    this.setState('closed');
    const error = stopError(code, reason);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    this.hooks.stopped(code, reason, error);
  }

  /** One command and its reply; waits for the session (up to the timeout). */
  async request<T extends CommandType>(command: { type: T } & CommandBody<T>, timeoutMs: number): Promise<ReplyTo<T>> {
    const deadline = Date.now() + timeoutMs;
    await this.whenLive(timeoutMs);
    const id = this.newId();
    return new Promise<ReplyTo<T>>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.inFlight.delete(id);
          reject(new BanyanError('unavailable', `no reply to ${command.type} in time`));
        },
        Math.max(1, deadline - Date.now()),
      );
      this.inFlight.set(id, { resolve: (frame) => resolve(frame as ReplyTo<T>), reject, timer });
      this.write({ ...command, id } as Command);
    });
  }

  /** A command without a reply to wait for; dropped when not connected. */
  send<T extends CommandType>(command: { type: T } & CommandBody<T>): void {
    this.write({ ...command, id: this.newId() } as Command);
  }

  /** A delay for retrying after a failure, on the reconnect schedule. */
  retryDelay(): number {
    return this.backoff.next();
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.hooks.state(state);
  }

  private open(): void {
    this.setState(this.current === 'idle' ? 'connecting' : 'reconnecting');
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      this.stop(1006, 'no WebSocket implementation: pass the `ws` package as options.WebSocket');
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new Ctor(`${this.options.url.replace(/^http/, 'ws').replace(/\/$/, '')}/v1/ws`);
    } catch (err) {
      this.hooks.error(new BanyanError('unavailable', `could not open the socket: ${String(err)}`));
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => void this.authenticate(ws);
    ws.onmessage = (event) => this.onMessage(typeof event.data === 'string' ? event.data : String(event.data));
    ws.onclose = (event) => this.onClose(ws, event.code, event.reason);
    // The close event follows every error; reconnecting happens there.
    ws.onerror = () => undefined;
  }

  private async authenticate(ws: WebSocketLike): Promise<void> {
    let token: string;
    const { renew } = this.options;
    try {
      const refused = this.tokenRefused ? this.lastToken : undefined;
      token =
        renew && refused !== undefined
          ? await renew(refused)
          : typeof this.options.token === 'function'
            ? await this.options.token()
            : this.options.token;
    } catch (err) {
      // A refresh refused: the session is over (signed out, replayed or expired), no retry helps.
      if (renew && err instanceof BanyanError && err.code === 'unauthorized') {
        if (this.ws === ws) this.stop(UNAUTHORIZED, 'session ended: sign in again');
        return;
      }
      this.hooks.error(new BanyanError('unauthorized', `no token: ${String(err)}`));
      this.drop(ws);
      return;
    }
    this.lastToken = token;
    this.tokenRefused = false;
    if (this.ws === ws && ws.readyState === WS_OPEN)
      ws.send(JSON.stringify({ type: 'auth', id: AUTH_ID, token } satisfies Command<'auth'>));
  }

  private onMessage(text: string): void {
    const frame = readServerFrame(text);
    if (!frame) {
      this.hooks.error(new BanyanError('bad_request', `unreadable frame from the server: ${text.slice(0, 200)}`));
      return;
    }
    switch (frame.type) {
      case 'ack':
      case 'history':
      case 'pong':
        break;
      case 'error':
        if (frame.re === undefined || frame.re === AUTH_ID) {
          this.hooks.error(frameError(frame));
          return;
        }
        break;
      default:
        this.hooks.frame(frame);
    }
    if ('re' in frame && frame.re !== undefined) this.settle(String(frame.re), frame);
  }

  /** Resolves (or for `error`, rejects) the request the frame answers. */
  private settle(id: string, frame: ServerFrame): void {
    const request = this.inFlight.get(id);
    if (!request) return;
    this.inFlight.delete(id);
    clearTimeout(request.timer);
    if (frame.type === 'error') request.reject(frameError(frame));
    else request.resolve(frame);
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.detach();
    if (code === UNAUTHORIZED) this.tokenRefused = true;
    if (code === REVOKED || (code === UNAUTHORIZED && typeof this.options.token === 'string' && !this.options.renew)) {
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
      this.hooks.error(new BanyanError('unavailable', `close failed: ${String(err)}`));
    }
    this.scheduleReconnect();
  }

  /** Forgets the current socket, if any: in-flight requests fail. */
  private detach(): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = undefined;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    clearInterval(this.pingTimer);
    for (const [id, request] of this.inFlight) {
      clearTimeout(request.timer);
      request.reject(new BanyanError('unavailable', 'connection lost'));
      this.inFlight.delete(id);
    }
    this.hooks.lost();
  }

  private scheduleReconnect(): void {
    if (this.current === 'closed') return;
    this.setState('reconnecting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), this.backoff.next());
  }

  private ping(ws: WebSocketLike | undefined): void {
    if (!ws || this.ws !== ws) return;
    this.request({ type: 'ping' }, this.options.pingTimeoutMs).catch(() => {
      // No pong in time on a socket that is still ours: the network is gone without a close.
      if (this.ws === ws) this.drop(ws);
    });
  }

  /** In a browser, coming back online reconnects at once instead of waiting out the backoff. */
  private watchNetwork(): void {
    const target = globalThis as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
    };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const online = () => {
      if (this.current !== 'reconnecting' || this.ws) return;
      clearTimeout(this.reconnectTimer);
      this.open();
    };
    target.addEventListener('online', online);
    this.removeOnlineListener = () => target.removeEventListener!('online', online);
  }

  private whenLive(timeoutMs: number): Promise<void> {
    if (this.live) return Promise.resolve();
    if (this.current === 'closed') return Promise.reject(new BanyanError('unavailable', 'client closed'));
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

  /**
   * Hands the open socket a refreshed token of its session (docs/protocol.md §3), so it is not
   * closed 4401 when the old one expires. A refusal (a server from before renewal) changes nothing:
   * the socket closes 4401 at the old token's expiry and the next one opens with the new token.
   */
  renew(token: string): void {
    if (!this.live) return;
    const id = this.newId();
    const timer = setTimeout(() => this.inFlight.delete(id), 30_000);
    this.inFlight.set(id, {
      resolve: () => {
        this.lastToken = token;
      },
      reject: () => undefined,
      timer,
    });
    this.write({ type: 'auth', id, token });
  }

  private write(frame: Command): void {
    if (this.ws?.readyState === WS_OPEN) this.ws.send(JSON.stringify(frame));
  }

  private newId(): string {
    return `c${this.nextId++}`;
  }
}
