import uws, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { Principal } from '../platform/auth/tokens.js';
import type { Chat } from '../platform/features.js';
import type { Config } from '../platform/config.js';
import type { Bus } from '../bus/bus.js';
import type { FeedStorage } from '../delivery/group-feeds.js';
import { Hub } from '../delivery/hub.js';
import type { Logger } from '../platform/obs/logger.js';
import type { Metrics } from '../platform/obs/metrics.js';
import { type Tracing, tracingOff } from '../platform/obs/tracing.js';
import { AppError, CloseCode, Disconnect } from '../protocol/errors.js';
import type { AnyCommand } from '../protocol/commands.js';
import type { FeatureModule } from '../platform/module.js';
import { assembleCommands } from './commands/index.js';
import { FailureReporter } from './failures.js';
import { bearerToken, HttpRouter, type RouteRecord } from './http.js';
import type { RateLimits } from './rate-limits.js';
import { apiDocsPage, openApiRoute } from './routes/api-docs.js';
import { healthRoutes } from './routes/health.js';
import { staticRoutes } from './routes/static.js';
import type { Socket } from './socket-state.js';
import { UwsTransport } from './uws-transport.js';

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT: bind without SO_REUSEPORT. */
const LISTEN_EXCLUSIVE_PORT = 1;
import { websocketRoute } from './websocket.js';

// Fail fast: the mirror silently falls back to a slow JavaScript imitation when the native
// addon does not load, and that fallback has no SSLApp.
if (typeof (uws as { SSLApp?: unknown }).SSLApp !== 'function') {
  throw new Error('uWebSockets.js native addon did not load (no SSLApp): needs Node 20 on glibc >= 2.27');
}

export interface GatewayDeps {
  chat: Chat;
  bus: Bus;
  feedStorage: FeedStorage;
  /** The features' routes and commands (src/platform/features.ts). */
  modules: readonly FeatureModule[];
  metrics: Metrics;
  /** Optional tracing (platform/obs/tracing.ts): HTTP requests, commands and deliveries as spans; off when unset. */
  tracing?: Tracing;
  logger: Logger;
  parseCommand(frame: string): AnyCommand;
  verifyToken(token: string): Promise<Principal>;
  /** The principal of a token verified without waiting; undefined when only `verifyToken` can (a public key). */
  verifyTokenNow(token: string): Principal | undefined;
  /** Resolves when storage answers (for /readyz). */
  pingStorage(): Promise<void>;
  limits: RateLimits;
  /** Who is connected here, for notifications (docs/protocol.md §8 "Notifications"). */
  presence?: { online(userId: string): void; offline(userId: string): void };
  /** Its sections of Config: the listener and sockets, the hub, local accounts on or off, upload size. */
  config: Pick<Config, 'server' | 'delivery' | 'auth' | 'files'>;
  /** One of WORKERS processes on one port: share it (SO_REUSEPORT); otherwise take it alone. */
  sharePort?: boolean;
}

const READY_PING_TIMEOUT_MS = 2000;

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

/**
 * The uWS server of one replica: HTTP routes and /v1/ws. Delivery's receiving side (the hub) owns
 * the sessions and what they follow; the gateway hands it sockets through a UwsTransport.
 */
export class Gateway {
  readonly app: TemplatedApp;
  readonly hub: Hub<Socket>;
  /** The HTTP routes registered, in order (the API reference's source). */
  readonly routes: readonly RouteRecord[];
  private listenSocket: us_listen_socket | undefined;
  private draining = false;
  private readonly commands = { inflight: 0, refusing: false };
  port = 0;

  constructor(private readonly deps: GatewayDeps) {
    const { chat, bus, metrics, logger, config } = deps;
    const tracing = deps.tracing ?? tracingOff;
    const failures = new FailureReporter(logger, metrics);
    this.app = uws.App();
    const transport = new UwsTransport(this.app);
    this.hub = new Hub<Socket>({
      bus,
      transport,
      feedStorage: deps.feedStorage,
      directory: {
        listGroups: (userId) => chat.groups.listMine(userId),
        groupSummary: (groupId, userId) => chat.groups.summary(groupId, userId),
        isRevoked: (principal) => chat.accounts.isRevoked(principal),
        startSession: (principal) => {
          // Throttled in memory: at most one write per session per ten minutes on this replica.
          chat.accounts.sessions.seen(principal);
          return chat.sessionStarts.start(principal);
        },
        revokedSessionsOf: (userIds) => chat.accounts.revoked.readUsers(userIds),
        membershipsOf: (userIds) => chat.groups.membershipsOf(userIds),
        privateRosterOf: (groupIds) => chat.groups.privateRosterOf(groupIds),
      },
      onAccessChange: (change) => (change === 'all' ? chat.membership.clear() : chat.membership.invalidate(change)),
      onRevoked: (userId) => {
        if (userId === 'all') void chat.accounts.revoked.readAll();
        else void chat.accounts.revoked.heard(userId).then((revoked) => this.hub.closeRevoked(userId, revoked));
      },
      metrics,
      tracing,
      logger,
      ...(deps.presence ? { presence: deps.presence } : {}),
      settings: config.delivery,
    });

    // The newest history pages are served from memory while this replica's feeds say they are current.
    chat.messages.attachLogView({
      follow: (groupId) => this.hub.feeds.acquire(groupId),
      release: (groupId) => this.hub.feeds.release(groupId),
      deliveredSeq: (groupId) => this.hub.feeds.deliveredSeq(groupId),
    });

    const authenticate = async (token: string) => {
      const principal = await deps.verifyToken(token);
      if (await chat.accounts.isRevoked(principal)) throw new AppError('unauthorized', 'session revoked');
      return principal;
    };
    /** `authenticate` without waiting: undefined when a public key or storage must answer. */
    const authenticateNow = (token: string) => {
      const principal = deps.verifyTokenNow(token);
      const revoked = principal && chat.accounts.isRevokedNow(principal);
      if (revoked) throw new AppError('unauthorized', 'session revoked');
      return revoked === false ? principal : undefined;
    };
    const router = new HttpRouter(this.app, {
      maxBodyBytes: config.server.maxBodyBytes,
      authenticate: async (authorization) => {
        const principal = await authenticate(bearerToken(authorization));
        await chat.accounts.ensureUser(principal);
        return principal;
      },
      failures,
      logger,
      limits: deps.limits,
      trustProxy: config.server.trustProxy,
      answered: (route, status, seconds) => metrics.httpDuration.observe({ route, status }, seconds),
      tracing,
    });
    this.routes = router.routes;
    websocketRoute(this.app, {
      hub: this.hub,
      transport,
      failures,
      metrics,
      tracing,
      logger,
      parseCommand: deps.parseCommand,
      authenticate,
      authenticateNow,
      isDraining: () => this.draining,
      commands: this.commands,
      handlers: assembleCommands(deps.modules),
      limits: deps.limits,
      settings: { ...config.server, maxBackpressure: Math.max(config.delivery.slowConsumerBytes * 8, 16 * 1024 * 1024) },
    });
    for (const module of deps.modules) if (module.routes) router.feature(module.name, (r) => module.routes?.(r));
    healthRoutes(router, {
      metrics,
      metricsToken: config.server.metricsToken,
      isReady: async () => {
        if (this.draining) return { ready: false, reason: 'draining' };
        try {
          // A database behind a silent network partition never answers: bound the wait.
          await withTimeout(deps.pingStorage(), READY_PING_TIMEOUT_MS);
        } catch {
          return { ready: false, reason: 'storage unavailable' };
        }
        return bus.healthy()
          ? { ready: true }
          : { ready: false, degraded: true, reason: 'bus unavailable (degraded: local delivery only)' };
      },
    });
    // Last of the router's routes: the API reference describes every one registered before it, itself too.
    openApiRoute(router);
    apiDocsPage(this.app);
    staticRoutes(this.app, logger);
    router.fallback();
  }

  /** Starts the hub, then listens on host:port (port 0 picks a free one); resolves with the port. */
  async listen(): Promise<number> {
    await this.hub.start();
    const { host, port } = this.deps.config.server;
    // uWS shares a port with SO_REUSEPORT by default, which WORKERS (processes on one port) relies
    // on. Any other server takes its port alone: else a second process bound to the same port
    // (another instance, or a bind(0) handed that port) silently receives half its connections.
    const options = this.deps.sharePort ? 0 : LISTEN_EXCLUSIVE_PORT;
    // The native listen takes (host, port, options, cb); uWS's typings declare options only without a host.
    const listen = this.app.listen as unknown as (
      host: string,
      port: number,
      options: number,
      cb: (socket: uws.us_listen_socket | false) => void,
    ) => void;
    return new Promise((resolve, reject) => {
      listen.call(this.app, host, port, options, (socket) => {
        if (!socket) return reject(new Error(`could not listen on ${host}:${port}`));
        this.listenSocket = socket;
        this.port = uws.us_socket_local_port(socket);
        resolve(this.port);
      });
    });
  }

  /**
   * Drain: /readyz turns 503 and upgrades are refused; after DRAIN_NOTICE_MS (so a load balancer
   * stops routing here) new commands are refused with `unavailable`, those in flight are answered,
   * then every socket is closed with 1001, its client reconnects elsewhere and syncs. The listen
   * socket closes last, so /readyz answers 503 throughout. Bounded by DRAIN_TIMEOUT_MS after the
   * notice.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const notice = this.deps.config.server.drainNoticeMs;
    if (notice > 0) await new Promise((r) => setTimeout(r, notice));
    const deadline = Date.now() + this.deps.config.server.drainTimeoutMs;
    const waitFor = async (done: () => boolean) => {
      while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    // Flush what this replica owes: commands in flight get their answers before the close.
    this.commands.refusing = true;
    await waitFor(() => this.commands.inflight === 0);
    this.hub.disconnectAll(new Disconnect(CloseCode.draining, 'server draining'));
    await waitFor(() => this.hub.sessionCount === 0);
    // Past the deadline: closed without a handshake.
    for (const session of this.hub.sessions()) session.socket.close();
    if (this.listenSocket) uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.deps.chat.messages.detachLogView();
    this.hub.close();
  }
}
