import uws, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_socket_context_t } from 'uWebSockets.js';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth/tokens.js';
import type { Chat } from '../chat/index.js';
import type { GroupFeeds } from '../delivery/group-feeds.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import { CommandError, commandIdOf, type AnyCommand } from '../protocol/commands.js';
import { AppError, CloseCode, Disconnect } from '../protocol/errors.js';
import { errorFrame } from '../protocol/frames.js';
import { commandHandlers, type CommandContext } from './commands/index.js';
import type { FailureReporter } from './failures.js';
import { errorBody } from './http.js';
import type { LocalSockets } from './local-sockets.js';
import { startSession } from './session-start.js';
import { isClosed, newSocketData, type SocketData, type Socket } from './socket-state.js';

export interface WebSocketDeps {
  chat: Chat;
  feeds: GroupFeeds;
  sockets: LocalSockets;
  failures: FailureReporter;
  metrics: Metrics;
  logger: Logger;
  parseCommand(frame: string): AnyCommand;
  /** Verifies a token (from the header or the auth frame) and checks its session. */
  authenticate(token: string): Promise<Principal>;
  isDraining(): boolean;
  /** Commands being handled now, and whether new ones are refused (the drain's last phase). */
  commands: { inflight: number; refusing: boolean };
  settings: {
    maxFrameBytes: number;
    authTimeoutMs: number;
    rateLimitPerS: number;
    rateLimitBurst: number;
    /** Hard per-socket buffer cap inside uWS; the slow-consumer sweep closes sockets well before it. */
    maxBackpressure: number;
  };
}

/** `GET /v1/ws`: upgrade (with or without a token), per-socket state, frames in, replies out. */
export function websocketRoute(app: TemplatedApp, deps: WebSocketDeps): void {
  const replicaTag = randomBytes(4).toString('hex');
  let nextConnection = 0;
  const newConnectionId = () => `${replicaTag}-${(nextConnection++).toString(36)}`;

  app.ws<SocketData>('/v1/ws', {
    // uWS drops oversized frames without a close code; it gets a hard cap above ours so that
    // frames over MAX_FRAME_BYTES reach us and are closed with 1009 as PROTOCOL.md says.
    maxPayloadLength: Math.min(deps.settings.maxFrameBytes * 16, 64 * 1024 * 1024),
    maxBackpressure: deps.settings.maxBackpressure,
    closeOnBackpressureLimit: 1,
    compression: uws.DISABLED,
    idleTimeout: 120,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => upgrade(deps, res, req, context, newConnectionId),

    open: (ws) => {
      deps.metrics.socketsOpen.inc();
      const data = ws.getUserData();
      if (data.principal) {
        begin(deps, ws, undefined);
      } else {
        data.timers.push(setTimeout(() => deps.sockets.close(ws, CloseCode.authTimeout, 'no auth frame in time'), deps.settings.authTimeoutMs));
      }
    },

    message: (ws, message) => {
      if (message.byteLength > deps.settings.maxFrameBytes) {
        deps.sockets.close(ws, CloseCode.tooLarge, 'frame too large');
        return;
      }
      // The ArrayBuffer is only valid during this call: decode it now.
      const frame = Buffer.from(message).toString('utf8');
      deps.metrics.framesIn.inc();
      // A bug in one command must not become an unhandled rejection, which ends the process.
      onFrame(deps, ws, frame).catch((err: unknown) => deps.logger.error('frame handling failed', { err }));
    },

    close: (ws) => {
      const data = ws.getUserData();
      data.phase = 'closed';
      for (const timer of data.timers) clearTimeout(timer);
      if (data.principal) deps.sockets.unregister(ws);
      deps.metrics.socketsOpen.dec();
    },
  });
}

function upgrade(
  deps: WebSocketDeps,
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
  newConnectionId: () => string,
): void {
  // req dies at the first await: copy the headers first.
  const key = req.getHeader('sec-websocket-key');
  const protocol = req.getHeader('sec-websocket-protocol');
  const extensions = req.getHeader('sec-websocket-extensions');
  const authorization = req.getHeader('authorization');
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  if (deps.isDraining()) {
    res.cork(() => res.writeStatus('503 Service Unavailable').end(JSON.stringify(errorBody(new AppError('unavailable', 'draining')))));
    return;
  }
  const accept = (principal: Principal | null) =>
    res.cork(() => res.upgrade(newSocketData(newConnectionId(), principal, deps.settings.rateLimitBurst), key, protocol, extensions, context));
  if (!authorization) {
    accept(null);
    return;
  }
  deps
    .authenticate(bearer(authorization))
    .then(
      (principal) => {
        if (!aborted) deps.sockets.withAnotherCorked(() => accept(principal));
      },
      (err: unknown) => {
        const error = deps.failures.toAppError(err);
        const status = error.code === 'unauthorized' ? '401 Unauthorized' : '503 Service Unavailable';
        if (!aborted) res.cork(() => res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(errorBody(error))));
      },
    );
}

const bearer = (authorization: string) => /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1] ?? '';

/** Starts the session of an authenticated socket and arms the token-expiry close. */
function begin(deps: WebSocketDeps, ws: Socket, re: AnyCommand['id'] | undefined): void {
  const data = ws.getUserData();
  const msLeft = data.principal!.expiresAt.getTime() - Date.now();
  data.timers.push(setTimeout(() => deps.sockets.close(ws, CloseCode.unauthorized, 'token expired'), Math.min(msLeft, 2 ** 31 - 1)));
  startSession(deps, ws, re).catch((err: unknown) => {
    const error = deps.failures.toAppError(err);
    deps.sockets.send(ws, errorFrame(re, error));
    // 1011: the standard "server error" close; the client reconnects and syncs.
    deps.sockets.close(ws, 1011, error.code);
  });
}

async function onFrame(deps: WebSocketDeps, ws: Socket, frame: string): Promise<void> {
  const data = ws.getUserData();
  if (!takeToken(deps, data)) {
    if (data.rate.strikes > deps.settings.rateLimitBurst) deps.sockets.close(ws, CloseCode.flooding, 'flooding');
    else {
      const retryAfterMs = Math.ceil(1000 / deps.settings.rateLimitPerS);
      // With `re`, so the client knows which command to send again.
      replyError(deps, ws, commandIdOf(frame), new AppError('rate_limited', 'slow down', { retryAfterMs }));
    }
    return;
  }
  let command: AnyCommand;
  try {
    command = deps.parseCommand(frame);
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (data.phase === 'auth') deps.sockets.close(ws, CloseCode.unauthorized, 'expected an auth frame');
    else replyError(deps, ws, err.commandId, err.error);
    return;
  }
  if (data.phase === 'auth') {
    await authenticateByFrame(deps, ws, command);
    return;
  }
  if (command.type === 'auth') {
    replyError(deps, ws, command.id, new AppError('bad_request', 'already authenticated'));
    return;
  }
  if (!data.principal) {
    // The auth frame is still being checked: commands are taken once it has passed.
    replyError(deps, ws, command.id, new AppError('unauthorized', 'not authenticated yet: wait for ready'));
    return;
  }
  if (deps.commands.refusing) {
    // Draining: what is in flight finishes and is answered; anything newer goes to another replica.
    replyError(deps, ws, command.id, new AppError('unavailable', 'server draining; reconnect to another replica'));
    return;
  }
  const ctx: CommandContext = { chat: deps.chat, userId: data.principal.userId, connectionId: data.connectionId };
  deps.commands.inflight++;
  try {
    const handler = commandHandlers[command.type] as (ctx: CommandContext, c: AnyCommand) => Promise<string | undefined>;
    const reply = await handler(ctx, command);
    if (reply !== undefined) deps.sockets.send(ws, reply);
  } catch (err) {
    if (err instanceof Disconnect) {
      deps.sockets.close(ws, err.closeCode, err.message);
      return;
    }
    replyError(deps, ws, command.id, err);
  } finally {
    deps.commands.inflight--;
  }
}

async function authenticateByFrame(deps: WebSocketDeps, ws: Socket, command: AnyCommand): Promise<void> {
  const data = ws.getUserData();
  if (command.type !== 'auth') {
    deps.sockets.close(ws, CloseCode.unauthorized, 'expected an auth frame');
    return;
  }
  data.phase = 'starting'; // no second auth frame while this one is checked
  let principal: Principal;
  try {
    principal = await deps.authenticate(command.token);
  } catch (err) {
    const error = deps.failures.toAppError(err);
    deps.sockets.send(ws, errorFrame(command.id, error));
    deps.sockets.close(ws, error.code === 'unauthorized' ? CloseCode.unauthorized : 1011, error.message);
    return;
  }
  if (isClosed(data)) return;
  for (const timer of data.timers.splice(0)) clearTimeout(timer);
  data.principal = principal;
  begin(deps, ws, command.id);
}

/** Token bucket per socket; `strikes` counts frames refused in a row. */
function takeToken(deps: WebSocketDeps, data: SocketData): boolean {
  const now = Date.now();
  const { rateLimitPerS, rateLimitBurst } = deps.settings;
  data.rate.tokens = Math.min(rateLimitBurst, data.rate.tokens + ((now - data.rate.last) / 1000) * rateLimitPerS);
  data.rate.last = now;
  if (data.rate.tokens >= 1) {
    data.rate.tokens -= 1;
    data.rate.strikes = 0;
    return true;
  }
  data.rate.strikes++;
  return false;
}

/** Answers a command with an error frame; the socket stays open. */
function replyError(deps: WebSocketDeps, ws: Socket, re: AnyCommand['id'] | undefined, err: unknown): void {
  deps.sockets.send(ws, errorFrame(re, deps.failures.toAppError(err)));
}
