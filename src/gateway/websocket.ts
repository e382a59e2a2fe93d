import uws, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_socket_context_t } from 'uWebSockets.js';
import type { Principal } from '../platform/auth/tokens.js';
import type { Hub } from '../delivery/hub.js';
import type { Logger } from '../platform/obs/logger.js';
import type { Metrics } from '../platform/obs/metrics.js';
import type { Tracing } from '../platform/obs/tracing.js';
import { type Clock, systemClock, type Timer } from '../platform/clock.js';
import { CommandError, commandIdOf, type AnyCommand, type CommandId } from '../protocol/commands.js';
import { AppError, CloseCode, Disconnect } from '../protocol/errors.js';
import { ackFrame, errorFrame } from '../protocol/frames.js';
import type { CommandContext, CommandHandlers } from './commands/index.js';
import type { FailureReporter } from './failures.js';
import type { RateLimits } from './rate-limits.js';
import { clientAddress, errorReply, sendReply } from './http.js';
import { newSocketData, type Socket, type SocketData } from './socket-state.js';
import { ANCHOR_TOPIC, type UwsTransport } from './uws-transport.js';

export interface WebSocketDeps {
  hub: Hub<Socket>;
  transport: UwsTransport;
  failures: FailureReporter;
  metrics: Metrics;
  /** Tracing (off: `on` is false and nothing else is called): each command a span. */
  tracing: Tracing;
  logger: Logger;
  parseCommand(frame: string): AnyCommand;
  /** Verifies a token (from the header or the auth frame) and checks its session. */
  authenticate(token: string): Promise<Principal>;
  /** `authenticate` without waiting (an HS256 token, revocations known in memory); undefined when it must wait. */
  authenticateNow(token: string): Principal | undefined;
  isDraining(): boolean;
  /** Commands being handled now, and whether new ones are refused (the drain's last phase). */
  commands: { inflight: number; refusing: boolean };
  /** One handler per command (assembleCommands). */
  handlers: CommandHandlers;
  /**
   * Reactions and typing per user per group; upgrades count as HTTP requests of their address,
   * and session starts as requests of their user, so opening sockets is as bounded as any request;
   * `perUser` bounds one user's sockets and their frames together (docs/protocol.md §3).
   */
  limits: Pick<RateLimits, 'groupAction' | 'httpAddress' | 'httpAddressAll' | 'httpUser' | 'perUser'>;
  settings: {
    /** Proxies in front whose X-Forwarded-For is believed (TRUST_PROXY). */
    trustProxy: number;
    maxFrameBytes: number;
    authTimeoutMs: number;
    rateLimitPerS: number;
    rateLimitBurst: number;
    /**
     * Unsent bytes past which a reply closes its socket with 4000 at once; uWS's own cap (which
     * drops the connection without a close code) is twice this, so the 4000 close frame still fits.
     */
    maxBackpressure: number;
  };
}

/** `GET /v1/ws`: upgrade (with or without a token), per-socket state, frames in, replies out. */
export function websocketRoute(app: TemplatedApp, deps: WebSocketDeps): void {
  app.ws<SocketData>('/v1/ws', {
    // uWS drops oversized frames without a close code; it gets a hard cap above ours so that
    // frames over MAX_FRAME_BYTES reach us and are closed with 1009 as docs/protocol.md says.
    maxPayloadLength: Math.min(deps.settings.maxFrameBytes * 16, 64 * 1024 * 1024),
    // The memory bound per socket. Reached only by a reader more than 2 × maxBackpressure behind
    // within one slow-consumer sweep: every reply checks, and the sweep closes with 4000 before.
    maxBackpressure: 2 * deps.settings.maxBackpressure,
    closeOnBackpressureLimit: 1,
    compression: uws.DISABLED,
    idleTimeout: 120,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => upgrade(deps, res, req, context),

    open: (ws) => {
      deps.metrics.socketsOpen.inc();
      ws.subscribe(ANCHOR_TOPIC);
      const data = ws.getUserData();
      if (data.state.phase === 'upgraded') {
        begin(deps, ws, data.state.principal, undefined);
      } else {
        const close = () => disconnect(deps, ws, new Disconnect(CloseCode.authTimeout, 'no auth frame in time'));
        data.timers.push(systemClock.setTimeout(close, deps.settings.authTimeoutMs));
      }
    },

    message: (ws, message) => {
      if (message.byteLength > deps.settings.maxFrameBytes) {
        disconnect(deps, ws, new Disconnect(CloseCode.tooLarge, 'frame too large'));
        return;
      }
      // The ArrayBuffer is only valid during this call: decode it now.
      const frame = Buffer.from(message).toString('utf8');
      deps.metrics.framesIn.inc();
      // A bug in one command must not become an unhandled rejection, which ends the process.
      onFrame(deps, ws, frame).catch((err: unknown) => socketLog(deps, ws).error('frame handling failed', { err }));
    },

    close: (ws) => {
      const data = ws.getUserData();
      for (const timer of data.timers) timer.cancel();
      if (data.state.phase === 'open') {
        deps.hub.end(data.state.session);
        deps.limits.perUser.closed(data.state.session.principal.userId);
      }
      data.state = { phase: 'closed' };
      deps.metrics.socketsOpen.dec();
    },
  });
}

function upgrade(deps: WebSocketDeps, res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
  // req dies at the first await: copy the headers first.
  const key = req.getHeader('sec-websocket-key');
  const protocol = req.getHeader('sec-websocket-protocol');
  const extensions = req.getHeader('sec-websocket-extensions');
  const authorization = req.getHeader('authorization');
  const address = clientAddress(res, req, deps.settings.trustProxy);
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const refuse = (err: unknown) => {
    const reply = errorReply(deps.failures.toAppError(err));
    if (!aborted) sendReply(res, reply);
  };
  if (deps.isDraining()) {
    refuse(new AppError('unavailable', 'draining'));
    return;
  }
  const upgradeTo = (principal: Principal | null) =>
    res.upgrade(newSocketData(principal, deps.settings.rateLimitBurst), key, protocol, extensions, context);
  let principal: Principal | null | undefined;
  // Per address: every upgrade (the backstop), and those without a token or whose token fails (as http.ts).
  const failed = (err: unknown) => {
    deps.limits.httpAddress(address);
    throw err;
  };
  try {
    deps.limits.httpAddressAll(address);
    if (!authorization) deps.limits.httpAddress(address);
    try {
      principal = authorization ? deps.authenticateNow(bearer(authorization)) : null;
    } catch (err) {
      failed(err);
    }
    if (principal) admitUser(deps, principal.userId);
  } catch (err) {
    refuse(err);
    return;
  }
  // Decided without waiting: upgraded inside uWS's handler, which has the socket corked (the 101
  // goes out in one write, not one per header) and is uWS's synchronous path (no bug below).
  if (principal !== undefined) {
    upgradeTo(principal);
    return;
  }
  // A token only a public key verifies, or a revocation storage must answer: upgraded after an await.
  deps
    .authenticate(bearer(authorization))
    .catch(failed)
    .then((principal) => {
      admitUser(deps, principal.userId);
      return principal;
    })
    .then((principal) => {
      if (!aborted) withAnotherCorked(deps.hub, () => res.cork(() => upgradeTo(principal)));
    }, refuse);
}

/** A session start of `userId`: one request of the user, and room for one more socket; throws `rate_limited`. */
function admitUser(deps: WebSocketDeps, userId: string): void {
  deps.limits.httpUser(userId);
  if (!deps.limits.perUser.hasRoom(userId)) throw tooManySockets();
}

/** docs/protocol.md §3: at most SOCKETS_PER_USER sockets per user on one replica. */
const tooManySockets = () =>
  new AppError('rate_limited', 'too many sockets open for this user: close one', { retryAfterMs: 1000, reason: 'sockets' });

const bearer = (authorization: string) => /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1] ?? '';

/**
 * Runs `fn` (an upgrade after an await) while some other socket is corked. uWS 20.30 can close
 * a socket upgraded inside its own `res.cork()` after an await, at random, right after `open`
 * (1006; uNetworking/uWebSockets#1929, fixed upstream after the version we can load): the cork's
 * epilogue reads the freed HTTP state of the reallocated socket. With another socket corked,
 * `res.cork()` only runs its callback and the 101 is written directly. uWS.js counts any cork
 * callback as corked, so no "not corked" warning either. With no other socket, `fn` runs as is.
 */
function withAnotherCorked(hub: Hub<Socket>, fn: () => void): void {
  const other = hub.sessions().next().value;
  if (other && other.phase !== 'closed') other.socket.cork(fn);
  else fn();
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` at `when`, pushing its timers on `timers` (cleared on close). Node fires a timer over
 * 2^31 − 1 ms (24.8 days) at once, so a later time is waited for in steps.
 */
export function callAt(when: Date, timers: Timer[], fn: () => void, clock: Clock = systemClock): void {
  const msLeft = when.getTime() - clock.now();
  if (msLeft > MAX_TIMER_MS) timers.push(clock.setTimeout(() => callAt(when, timers, fn, clock), MAX_TIMER_MS));
  else timers.push(clock.setTimeout(fn, msLeft));
}

/** Opens the delivery session of an authenticated socket and arms the token-expiry close. */
function begin(deps: WebSocketDeps, ws: Socket, principal: Principal, re: CommandId | undefined): void {
  const data = ws.getUserData();
  // Checked again here: sockets of the same user may have opened since the upgrade's check.
  if (!deps.limits.perUser.opened(principal.userId)) {
    reply(deps, ws, errorFrame(re, tooManySockets()));
    disconnect(deps, ws, new Disconnect(CloseCode.flooding, 'too many sockets'));
    return;
  }
  const session = deps.hub.open(ws, principal);
  data.state = { phase: 'open', session };
  closeAtExpiry(deps, ws, principal.expiresAt);
  deps.hub.begin(session, re).catch((err: unknown) => {
    const error = deps.failures.toAppError(err, () => socketLog(deps, ws));
    reply(deps, ws, errorFrame(re, error));
    // The client reconnects and syncs.
    disconnect(deps, ws, new Disconnect(CloseCode.serverError, error.code));
  });
}

/** Arms the close (4401) at the token's expiry; a renewal (`renew`) re-arms it. */
function closeAtExpiry(deps: WebSocketDeps, ws: Socket, expiresAt: Date): void {
  const data = ws.getUserData();
  for (const timer of data.timers.splice(0)) timer.cancel();
  callAt(expiresAt, data.timers, () => disconnect(deps, ws, new Disconnect(CloseCode.unauthorized, 'token expired')));
}

/**
 * An `auth` frame on an open socket (docs/protocol.md §3): a fresh token of the same user and
 * session, from a refresh, moves the socket's expiry to the new token's and is answered `ack`.
 * Another user's or session's token, or one that fails, is refused and changes nothing: the socket
 * still closes 4401 at its own token's expiry.
 */
async function renew(deps: WebSocketDeps, ws: Socket, current: Principal, command: AnyCommand & { type: 'auth' }): Promise<void> {
  let principal: Principal;
  try {
    principal = await deps.authenticate(command.token);
  } catch (err) {
    replyError(
      deps,
      ws,
      command.id,
      deps.failures.toAppError(err, () => socketLog(deps, ws)),
    );
    return;
  }
  if (principal.userId !== current.userId || principal.sessionId !== current.sessionId) {
    replyError(deps, ws, command.id, new AppError('bad_request', "a renewed token must be of this socket's session"));
    return;
  }
  if (phaseOf(ws.getUserData()) !== 'open') return;
  closeAtExpiry(deps, ws, principal.expiresAt);
  reply(deps, ws, ackFrame(command.id, { expiresAt: principal.expiresAt.toISOString() }));
}

async function onFrame(deps: WebSocketDeps, ws: Socket, frame: string): Promise<void> {
  const data = ws.getUserData();
  if (!takeToken(deps, data)) {
    refuseFrame(deps, ws, frame, Math.ceil(1000 / deps.settings.rateLimitPerS));
    return;
  }
  // The user's sockets together (docs/protocol.md §3): many sockets each within its limit are not more.
  const userWaitMs = data.state.phase === 'open' ? deps.limits.perUser.takeFrame(data.state.session.principal.userId) : 0;
  if (userWaitMs > 0) {
    data.rate.strikes++;
    refuseFrame(deps, ws, frame, userWaitMs);
    return;
  }
  let command: AnyCommand;
  try {
    command = deps.parseCommand(frame);
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (data.state.phase === 'auth') disconnect(deps, ws, new Disconnect(CloseCode.unauthorized, 'expected an auth frame'));
    else replyError(deps, ws, err.commandId, err.error);
    return;
  }
  const { state } = data;
  switch (state.phase) {
    case 'auth':
      await authenticateByFrame(deps, ws, command);
      return;
    case 'open':
      if (command.type === 'auth') await renew(deps, ws, state.session.principal, command);
      else await runCommand(deps, ws, state.session.principal.userId, state.session.connectionId, command);
      return;
    case 'checking':
    case 'upgraded':
      // The token is still being checked: commands are taken once it has passed.
      replyError(deps, ws, command.id, new AppError('unauthorized', 'not authenticated yet: wait for ready'));
      return;
    case 'closed':
      return;
  }
}

/** A frame over a rate: answered `rate_limited`, or after too many strikes the socket is closed (4429). */
function refuseFrame(deps: WebSocketDeps, ws: Socket, frame: string, retryAfterMs: number): void {
  if (ws.getUserData().rate.strikes > deps.settings.rateLimitBurst) disconnect(deps, ws, new Disconnect(CloseCode.flooding, 'flooding'));
  // With `re`, so the client knows which command to send again; the frame is not parsed.
  else replyError(deps, ws, commandIdOf(frame), new AppError('rate_limited', 'slow down', { retryAfterMs }));
}

async function runCommand(
  deps: WebSocketDeps,
  ws: Socket,
  userId: string,
  connectionId: string,
  command: Exclude<AnyCommand, { type: 'auth' }>,
) {
  if (deps.commands.refusing) {
    // Draining: what is in flight finishes and is answered; anything newer goes to another replica.
    replyError(deps, ws, command.id, new AppError('unavailable', 'server draining; reconnect to another replica'));
    return;
  }
  if (command.type === 'react' || command.type === 'vote' || command.type === 'rsvp' || command.type === 'typing') {
    // Votes and RSVPs share the reactions' budget: each is an event of the group's log, undone as easily.
    const retryAfterMs = await deps.limits.groupAction(command.type === 'typing' ? 'typing' : 'react', userId, command.group);
    // Typing has no reply: over its limit it is dropped.
    if (retryAfterMs > 0) {
      if (command.type !== 'typing')
        replyError(
          deps,
          ws,
          command.id,
          new AppError('rate_limited', `too many ${actionNames[command.type]} in this group`, { retryAfterMs }),
        );
      return;
    }
  }
  const ctx: CommandContext = { userId, connectionId };
  deps.commands.inflight++;
  const started = performance.now();
  try {
    const handler = deps.handlers[command.type] as (ctx: CommandContext, c: AnyCommand) => Promise<string | undefined>;
    const frame = deps.tracing.on
      ? await deps.tracing.span(`ws ${command.type}`, { kind: 'server', attributes: { 'banyan.command': command.type } }, () =>
          handler(ctx, command),
        )
      : await handler(ctx, command);
    if (frame !== undefined) reply(deps, ws, frame);
  } catch (err) {
    // docs/architecture.md's two error kinds: a Disconnect closes the socket, anything else is answered.
    if (err instanceof Disconnect) disconnect(deps, ws, err);
    else replyError(deps, ws, command.id, err);
  } finally {
    deps.commands.inflight--;
    // A send's time until its ack (stored), whatever became of it.
    deps.metrics.commandDuration.observe({ command: command.type }, (performance.now() - started) / 1000);
  }
}

async function authenticateByFrame(deps: WebSocketDeps, ws: Socket, command: AnyCommand): Promise<void> {
  const data = ws.getUserData();
  if (command.type !== 'auth') {
    disconnect(deps, ws, new Disconnect(CloseCode.unauthorized, 'expected an auth frame'));
    return;
  }
  data.state = { phase: 'checking' };
  let principal: Principal;
  try {
    principal = await deps.authenticate(command.token);
    admitUser(deps, principal.userId);
  } catch (err) {
    const error = deps.failures.toAppError(err, () => socketLog(deps, ws));
    reply(deps, ws, errorFrame(command.id, error));
    const code =
      error.code === 'unauthorized' ? CloseCode.unauthorized : error.code === 'rate_limited' ? CloseCode.flooding : CloseCode.serverError;
    disconnect(deps, ws, new Disconnect(code, error.message));
    return;
  }
  if (phaseOf(data) === 'closed') return;
  for (const timer of data.timers.splice(0)) timer.cancel();
  begin(deps, ws, principal, command.id);
}

/** A function, not an inline check, because the phase changes across awaits. */
const phaseOf = (data: SocketData) => data.state.phase;

const actionNames = { react: 'reactions', vote: 'votes', rsvp: 'RSVPs' } as const;

/**
 * Token bucket per socket. Each refused frame is a strike; strikes fade at half the refill rate
 * (never reset by a granted frame), so a socket that keeps sending faster than 1.5× the rate
 * after `rate_limited` gathers more than RATE_LIMIT_BURST of them and is closed, while one that
 * backs off, or overshoots briefly, never is.
 */
function takeToken(deps: WebSocketDeps, data: SocketData): boolean {
  const now = Date.now();
  const { rateLimitPerS, rateLimitBurst } = deps.settings;
  const refill = ((now - data.rate.last) / 1000) * rateLimitPerS;
  data.rate.tokens = Math.min(rateLimitBurst, data.rate.tokens + refill);
  data.rate.strikes = Math.max(0, data.rate.strikes - refill / 2);
  data.rate.last = now;
  if (data.rate.tokens >= 1) {
    data.rate.tokens -= 1;
    return true;
  }
  data.rate.strikes++;
  return false;
}

function reply(deps: WebSocketDeps, ws: Socket, frame: string): void {
  deps.transport.send(ws, frame);
  deps.metrics.framesOut.inc();
  // A reader far behind is cut now, before uWS's cap would drop it with no close code; the
  // slow-consumer sweep cuts the ones merely behind.
  if (ws.getUserData().state.phase !== 'closed' && deps.transport.bufferedAmount(ws) > deps.settings.maxBackpressure) {
    deps.metrics.slowConsumers.inc();
    disconnect(deps, ws, new Disconnect(CloseCode.slowConsumer, 'slow consumer'));
  }
}

/** Answers a command with an error frame; the socket stays open. */
function replyError(deps: WebSocketDeps, ws: Socket, re: CommandId | undefined, err: unknown): void {
  reply(
    deps,
    ws,
    errorFrame(
      re,
      deps.failures.toAppError(err, () => socketLog(deps, ws)),
    ),
  );
}

/** The socket's logger, made only when a line is written (rare): no socket keeps one. */
function socketLog(deps: WebSocketDeps, ws: Socket): Logger {
  const { state } = ws.getUserData();
  if (state.phase !== 'open') return deps.logger.child({ phase: state.phase });
  return deps.logger.child({ connectionId: state.session.connectionId, userId: state.session.principal.userId });
}

/** The one way this file closes a socket. */
function disconnect(deps: WebSocketDeps, ws: Socket, reason: Disconnect): void {
  deps.transport.close(ws, reason);
}
