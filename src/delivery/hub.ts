import { randomBytes } from 'node:crypto';
import type { Principal } from '../platform/auth/tokens.js';
import { ALL_MEMBERS, type Bus, type BusMessage } from '../bus/bus.js';
import type { Logger } from '../platform/obs/logger.js';
import type { Metrics } from '../platform/obs/metrics.js';
import type { Tracing } from '../platform/obs/tracing.js';
import { type Clock, systemClock, type Timer } from '../platform/clock.js';
import { CloseCode, Disconnect } from '../protocol/errors.js';
import { groupAddedFrame, groupRemovedFrame, readMarkerFrame, statsFrame, type GroupSummary } from '../protocol/frames.js';
import { decodeAccessChange, type AccessChange } from './access-change.js';
import { decodeControl, revokes, type ControlMessage } from './control.js';
import { GroupFeeds, type FeedStorage } from './group-feeds.js';
import { decodePresenceBatch, type PresenceBatch } from './presence-batch.js';
import { startSession } from './session-start.js';
import type { Session } from './session.js';
import {
  ACCESS_TOPIC,
  PRESENCE_TOPIC,
  REVOKED_TOPIC,
  controlTopic,
  groupTopic,
  isControlTopic,
  topicGroupId,
  topicKind,
} from './topics.js';
import type { SocketTransport } from './transport.js';

/** What the receiving side reads about users and their groups; the domain answers (wired in app.ts). */
export interface Directory {
  /** The user's groups, as `ready` lists them. */
  listGroups(userId: string): Promise<GroupSummary[]>;
  /** The user's summary of one group, or undefined when not a member. */
  groupSummary(groupId: string, userId: string): Promise<GroupSummary | undefined>;
  isRevoked(principal: Principal): Promise<boolean>;
  /**
   * The user as `ready` names them (their current name), created on first sight of a token's
   * subject (an external identity service's changed `name` claim is taken here), and their
   * groups as listGroups gives them, both read after this call.
   */
  startSession(principal: Principal): Promise<{ user: { id: string; name: string }; groups: GroupSummary[] }>;
  // What sessions held here are re-checked against while the bus is down and once it is back
  // (Hub.recheckSessions), each read from storage now:
  /** Each of these users' revoked session ids. */
  revokedSessionsOf(userIds: string[]): Promise<Map<string, ReadonlySet<string>>>;
  /** The groups each of these users is in. */
  membershipsOf(userIds: string[]): Promise<Map<string, Set<string>>>;
  /** Of these groups, those whose roster is private (a member leaves them by a control message, not a log event). */
  privateRosterOf(groupIds: string[]): Promise<Set<string>>;
}

export interface HubDeps<S> {
  bus: Bus;
  transport: SocketTransport<S>;
  directory: Directory;
  feedStorage: FeedStorage;
  /** A committed access change reached this replica; `all` after the bus may have lost some. */
  onAccessChange(change: AccessChange | 'all'): void;
  /** Sessions of the user were revoked (committed); `all` when every revocation must be read again (start, lost messages). */
  onRevoked(userId: string | 'all'): void;
  metrics: Metrics;
  /** Optional tracing: a traced bus message's delivery here is a span of its sender's trace. */
  tracing?: Tracing;
  logger: Logger;
  /** Told when a user's first session here opens and their last one closes (who not to push). */
  presence?: { online(userId: string): void; offline(userId: string): void };
  /** Times the slow-consumer sweep and the outage re-checks; the system clock when unset. */
  clock?: Clock;
  settings: {
    /**
     * How often running feeds are checked against storage for events the bus lost, and, while the
     * bus is down, how often the sessions here are re-checked (recheckSessions).
     */
    feedCheckMs: number;
    /** How long a group is still followed after its last socket here leaves (FeedOptions.lingerMs). */
    feedLingerMs: number;
    /** Unsent bytes past which a socket is cut with 4000. */
    slowConsumerBytes: number;
  };
}

const SLOW_CONSUMER_SWEEP_MS = 250;
/** Users whose sessions one re-check reads from storage per statement. */
const RECHECK_CHUNK = 500;
/**
 * Viewers handed their frames of a presence flush per turn of the event loop. A flush reaches
 * hundreds of viewers here, one socket write each: handed all at once, they held back a group
 * message heard meanwhile (whose fan-out waits for the loop) by their whole length.
 */
const PRESENCE_VIEWERS_PER_TURN = 64;

/**
 * A control shard this replica follows: its users here, and the SUBSCRIBE their session starts
 * wait for (the bus repairs a failed one itself: its `subscribe` resolves, never rejects).
 */
interface ControlShard {
  users: number;
  followed: Promise<void>;
}

/**
 * The receiving side of delivery on one replica (centrifuge's Node/Hub): the sessions connected
 * here by user and by connection, the group feeds they follow (reference counted on the bus),
 * routing of every bus message, session start, users' control messages, and the slow-consumer
 * policy. It reaches sockets only through the SocketTransport the gateway gives it.
 */
export class Hub<S> {
  private readonly byUser = new Map<string, Set<Session<S>>>();
  private readonly byConnection = new Map<string, Session<S>>();
  /** Control shards followed, with the users here they are followed for, and the SUBSCRIBE's confirmation. */
  private readonly controlShards = new Map<string, ControlShard>();
  /** Presence flushes heard and not yet handed to every viewer here (see handPresence). */
  private readonly presenceQueue: { batch: PresenceBatch; next: number }[] = [];
  readonly feeds: GroupFeeds;
  private readonly replicaTag = randomBytes(4).toString('hex');
  private nextConnection = 0;
  private sweepTimer: Timer | undefined;
  private outageTimer: Timer | undefined;
  /** The re-check under way, and whether another was asked for meanwhile (it runs once after). */
  private rechecking: Promise<void> | undefined;
  private recheckAgain = false;

  constructor(private readonly deps: HubDeps<S>) {
    const { bus, metrics, logger, settings } = deps;
    this.feeds = new GroupFeeds(
      bus,
      deps.feedStorage,
      {
        publish: (groupId, data, origin) => this.fanOut(groupId, data, origin),
        memberLeft: (groupId, userId) => this.memberLeft(groupId, userId),
      },
      {
        gapWaitMs: 50,
        fillPageSize: 500,
        checkIntervalMs: settings.feedCheckMs,
        lingerMs: settings.feedLingerMs,
        onGapFill: () => metrics.gapFills.inc(),
      },
      logger,
    );
    const { tracing } = deps;
    // Chosen once: with tracing off the handler is what it always was.
    bus.onMessage(tracing?.on ? (message) => this.routeTraced(tracing, message) : (message) => this.route(message));
    bus.onResync(() => {
      deps.onAccessChange('all');
      deps.onRevoked('all');
      this.feeds.resyncAll();
      void this.recheckSessions();
    });
  }

  /** Subscribes what every replica hears, and starts cutting slow consumers. */
  async start(): Promise<void> {
    // Every replica hears every membership change, for its membership cache.
    await this.deps.bus.subscribe(ACCESS_TOPIC);
    // And every revocation; what was revoked before is read once subscribed, so nothing falls between.
    await this.deps.bus.subscribe(REVOKED_TOPIC);
    this.deps.onRevoked('all');
    // And every presence flush, one message each, whichever replica's users it is for.
    await this.deps.bus.subscribe(PRESENCE_TOPIC);
    const clock = this.deps.clock ?? systemClock;
    this.sweepTimer = clock.setInterval(() => this.closeSlowConsumers(), SLOW_CONSUMER_SWEEP_MS).unref();
    // While the bus is down, what other replicas revoke or change goes unheard: storage tells.
    this.outageTimer = clock
      .setInterval(() => {
        if (!this.deps.bus.healthy()) void this.recheckSessions();
      }, this.deps.settings.feedCheckMs)
      .unref();
  }

  /** Closes every session (a drain: 1001); no sweep cuts anyone with 4000 from now on. */
  disconnectAll(reason: Disconnect): void {
    this.sweepTimer?.cancel();
    this.outageTimer?.cancel();
    for (const session of this.byConnection.values()) this.disconnect(session, reason);
  }

  /** Stops every feed; call once the sessions are gone. */
  close(): void {
    this.sweepTimer?.cancel();
    this.outageTimer?.cancel();
    this.feeds.close();
  }

  /** A new authenticated connection; `begin` takes it to `ready`. */
  open(socket: S, principal: Principal): Session<S> {
    return {
      socket,
      connectionId: `${this.replicaTag}-${(this.nextConnection++).toString(36)}`,
      principal,
      phase: 'starting',
      groups: new Set(),
      deferred: [],
      recentlyLeft: new Set(),
    };
  }

  /** Follows every group of the session's user and sends `ready` (with `re` when the auth frame asked). */
  begin(session: Session<S>, re: string | number | undefined): Promise<void> {
    return startSession(this, this.deps.directory, session, re);
  }

  /** The connection closed: forgets it and drops every reference it held. */
  end(session: Session<S>): void {
    session.phase = 'closed';
    if (!this.byConnection.delete(session.connectionId)) return;
    for (const groupId of session.groups) this.feeds.release(groupId);
    session.groups.clear();
    const userId = session.principal.userId;
    const sessions = this.byUser.get(userId);
    sessions?.delete(session);
    if (sessions && sessions.size === 0) {
      this.byUser.delete(userId);
      this.deps.presence?.offline(userId);
      this.unfollowControl(userId);
    }
  }

  get sessionCount(): number {
    return this.byConnection.size;
  }

  sessions(): IterableIterator<Session<S>> {
    return this.byConnection.values();
  }

  /** Sends one frame to one session, unless it has closed meanwhile. */
  /** One frame, or several in one write (a presence flush's frames for one viewer). */
  send(session: Session<S>, frame: string | readonly string[]): void {
    if (session.phase === 'closed') return;
    this.deps.transport.send(session.socket, frame);
    this.deps.metrics.framesOut.inc(typeof frame === 'string' ? 1 : frame.length);
  }

  /**
   * Closes (4403) the user's sessions here whose session id is among `revoked`. The `revoke`
   * control message does this as a rule; this is for a revocation heard only on the `revoked` topic
   * (a control message lost with the bus, or published by an older replica to a topic this one does
   * not follow).
   */
  closeRevoked(userId: string, revoked: ReadonlySet<string>): void {
    for (const session of this.byUser.get(userId) ?? []) {
      const sessionId = session.principal.sessionId;
      if (sessionId !== null && revoked.has(sessionId)) this.disconnect(session, new Disconnect(CloseCode.revoked, 'session revoked'));
    }
  }

  /**
   * Re-checks every session here against storage, for what the bus may not have brought
   * (docs/protocol.md §1, "During a Redis outage"): sessions revoked meanwhile close with 4403;
   * groups the user left or was removed or banned from whose roster is private (no log event
   * tells: the feed's catch-up covers the others) are no longer followed and get `group_removed`;
   * groups joined meanwhile are followed and get `group_added`, as live. Run after every bus
   * reconnect and periodically while the bus is down; one at a time, a request meanwhile runs
   * once more after it. Resolves when the run under way ends (never rejects).
   */
  recheckSessions(): Promise<void> {
    if (this.rechecking) {
      this.recheckAgain = true;
      return this.rechecking;
    }
    this.rechecking = this.recheckAll()
      .catch((err: unknown) => this.deps.logger.warn('re-checking sessions against storage failed', { err }))
      .finally(() => {
        this.rechecking = undefined;
        if (this.recheckAgain) {
          this.recheckAgain = false;
          void this.recheckSessions();
        }
      });
    return this.rechecking;
  }

  private async recheckAll(): Promise<void> {
    const userIds = [...this.byUser.keys()];
    for (let i = 0; i < userIds.length; i += RECHECK_CHUNK) await this.recheckUsers(userIds.slice(i, i + RECHECK_CHUNK));
  }

  private async recheckUsers(userIds: string[]): Promise<void> {
    const { directory } = this.deps;
    // What each ready session followed before storage was read: only those groups can be ones it
    // left unheard (one followed since came with a group_added newer than the read).
    const before = new Map<Session<S>, Set<string>>();
    for (const userId of userIds) for (const s of this.byUser.get(userId) ?? []) if (s.phase === 'ready') before.set(s, new Set(s.groups));
    const [revoked, memberships] = await Promise.all([directory.revokedSessionsOf(userIds), directory.membershipsOf(userIds)]);
    for (const [userId, sessionIds] of revoked) if (sessionIds.size > 0) this.closeRevoked(userId, sessionIds);

    const gone = new Map<Session<S>, string[]>();
    for (const [session, followed] of before) {
      const now = memberships.get(session.principal.userId) ?? new Set<string>();
      const left = [...followed].filter((g) => !now.has(g));
      if (left.length > 0) gone.set(session, left);
      for (const groupId of now) {
        if (followed.has(groupId) || session.groups.has(groupId) || session.phase !== 'ready') continue;
        // addGroup reads the membership again after following: a leave meanwhile is not undone.
        void this.addGroup(session, groupId).catch((err: unknown) =>
          this.deps.logger.warn('could not follow a joined group', { groupId, err }),
        );
      }
    }
    if (gone.size === 0) return;
    const privateRoster = await directory.privateRosterOf([...new Set([...gone.values()].flat())]);
    for (const [session, left] of gone) {
      for (const groupId of left) {
        if (!privateRoster.has(groupId) || !session.groups.has(groupId)) continue;
        this.unfollow(session, groupId);
        this.send(session, groupRemovedFrame(groupId));
      }
    }
  }

  disconnect(session: Session<S>, reason: Disconnect): void {
    if (session.phase === 'closed') return;
    this.deps.transport.close(session.socket, reason);
  }

  // For session start (session-start.ts)

  /** Registers a starting session; resolves once the user's control shard is followed (at once when it already was). */
  async register(session: Session<S>): Promise<void> {
    const userId = session.principal.userId;
    this.byConnection.set(session.connectionId, session);
    let sessions = this.byUser.get(userId);
    if (!sessions) {
      sessions = new Set();
      this.byUser.set(userId, sessions);
      sessions.add(session);
      this.deps.presence?.online(userId);
      this.followControl(userId);
    } else {
      sessions.add(session);
    }
    await this.controlShards.get(controlTopic(userId))!.followed;
  }

  /** The user's first session here: their control shard gains a user (the first subscribes it). */
  private followControl(userId: string): void {
    const topic = controlTopic(userId);
    const shard = this.controlShards.get(topic);
    if (shard) {
      shard.users++;
      return;
    }
    this.controlShards.set(topic, { users: 1, followed: this.deps.bus.subscribe(topic) });
  }

  /** The user's last session here closed: the shard's last user unsubscribes it. */
  private unfollowControl(userId: string): void {
    const topic = controlTopic(userId);
    const shard = this.controlShards.get(topic);
    if (!shard || --shard.users > 0) return;
    this.controlShards.delete(topic);
    this.deps.bus.unsubscribe(topic).catch((err: unknown) => this.deps.logger.warn('bus unsubscribe failed', { topic, err }));
  }

  /**
   * Starts a session following a group whose feed reference the caller already took (and hands
   * over). Returns the seq after which the session receives the group's events, or -1 when it
   * must not follow it (closed, already following, or left meanwhile).
   */
  follow(session: Session<S>, groupId: string): number {
    if (session.phase === 'closed' || session.groups.has(groupId) || session.recentlyLeft.has(groupId)) {
      this.feeds.release(groupId);
      return -1;
    }
    session.groups.add(groupId);
    this.deps.transport.subscribe(session.socket, groupTopic(groupId));
    return this.feeds.deliveredSeq(groupId);
  }

  /** Applies a control message to a ready session. */
  apply(session: Session<S>, message: ControlMessage): void {
    if (message.kind === 'read') {
      if (message.except !== session.connectionId) this.send(session, readMarkerFrame(message.group, message.seq));
    } else if (message.kind === 'frame') {
      this.send(session, message.data);
    } else if (message.kind === 'frames') {
      this.send(session, message.frames);
    } else if (message.kind === 'group_removed') {
      if (session.groups.has(message.group)) {
        this.unfollow(session, message.group);
        this.send(session, groupRemovedFrame(message.group));
      } else {
        // A group_added still being followed (addGroup awaits) must not follow it after all.
        session.recentlyLeft.add(message.group);
      }
    } else if (message.kind === 'stats') {
      this.send(session, statsFrame(message.stats));
    } else if (message.kind === 'group_added') {
      void this.addGroup(session, message.group).catch((err: unknown) =>
        this.deps.logger.warn('could not follow a joined group', { groupId: message.group, err }),
      );
    }
  }

  // Bus routing

  /** A message published inside a trace is delivered in a span that is its publish span's child, on every replica. */
  private routeTraced(tracing: Tracing, message: BusMessage): void {
    const parent = message.trace === undefined ? undefined : tracing.remote(message.trace);
    if (!parent) {
      this.route(message);
      return;
    }
    tracing.span('deliver', { kind: 'consumer', parent, attributes: { 'banyan.topic': topicKind(message.topic) } }, () =>
      this.route(message),
    );
  }

  private route(message: BusMessage): void {
    const groupId = topicGroupId(message.topic);
    if (groupId !== undefined) this.feeds.receive(groupId, message);
    else if (isControlTopic(message.topic)) this.controlFromBus(message.data);
    else if (message.topic === ACCESS_TOPIC) this.deps.onAccessChange(decodeAccessChange(message.data));
    else if (message.topic === REVOKED_TOPIC) this.deps.onRevoked(message.data);
    else if (message.topic === PRESENCE_TOPIC) this.presence(message.data);
  }

  /** In-order frames from a feed go to the transport's topic: native fan-out, no JavaScript per socket. */
  private fanOut(groupId: string, data: string, origin?: string): void {
    const originSession = origin === undefined ? undefined : this.byConnection.get(origin);
    // A session's own publish skips that session: how typing avoids echoing to its sender.
    const skip = originSession && originSession.phase !== 'closed' ? originSession.socket : undefined;
    this.deps.transport.publish(groupTopic(groupId), data, skip);
    this.deps.metrics.framesOut.inc();
  }

  /** The user left the group (right after that event): their sessions stop following it. */
  private memberLeft(groupId: string, userId: string): void {
    const everyone = userId === ALL_MEMBERS;
    for (const session of everyone ? this.byConnection.values() : (this.byUser.get(userId) ?? [])) {
      if (session.groups.has(groupId)) {
        this.unfollow(session, groupId);
        this.send(session, groupRemovedFrame(groupId));
      } else if (!everyone || session.phase === 'starting') {
        // A session still starting may have listed the group already: it must not follow it.
        session.recentlyLeft.add(groupId);
      }
    }
  }

  private unfollow(session: Session<S>, groupId: string): void {
    if (!session.groups.delete(groupId)) return;
    if (session.phase !== 'closed') this.deps.transport.unsubscribe(session.socket, groupTopic(groupId));
    this.feeds.release(groupId);
  }

  /** A message on a control shard: for the sessions here of the user it names, if any. */
  private controlFromBus(data: string): void {
    const addressed = decodeControl(data);
    if (addressed) this.control(addressed.to, addressed.message);
    else this.deps.logger.warn('control message not understood, dropped', { bytes: data.length });
  }

  /** A control message for the user, for each of their sessions on this replica. */
  private control(userId: string, message: ControlMessage): void {
    for (const session of this.byUser.get(userId) ?? []) {
      if (message.kind === 'revoke' || message.kind === 'revoke_all') {
        if (revokes(message, session.principal.sessionId)) this.disconnect(session, new Disconnect(CloseCode.revoked, 'session revoked'));
      } else if (session.phase === 'starting') {
        // A session still starting may have listed the group already: it must not follow it.
        if (message.kind === 'group_removed') session.recentlyLeft.add(message.group);
        session.deferred.push(message);
      } else if (session.phase === 'ready') {
        this.apply(session, message);
      }
    }
  }

  /** A presence flush: the viewers with sessions here get their frames as a `frames` control message would bring them. */
  private presence(data: string): void {
    const batch = decodePresenceBatch(data);
    if (!batch) {
      // Another version's format: its viewers miss these frames, nothing else does.
      this.deps.logger.warn('presence message not understood, dropped', { bytes: data.length });
      return;
    }
    this.presenceQueue.push({ batch, next: 0 });
    if (this.presenceQueue.length === 1) this.handPresence();
  }

  /**
   * Hands queued presence frames to the viewers here, PRESENCE_VIEWERS_PER_TURN per turn of the
   * event loop, flush after flush, so each viewer's frames stay in order.
   */
  private handPresence(): void {
    let budget = PRESENCE_VIEWERS_PER_TURN;
    while (budget > 0 && this.presenceQueue.length > 0) {
      const head = this.presenceQueue[0]!;
      const { frames, to } = head.batch;
      while (budget > 0 && head.next < to.length) {
        const [viewer, indices] = to[head.next++]!;
        if (!this.byUser.has(viewer)) continue;
        this.control(viewer, { kind: 'frames', frames: indices.map((i) => frames[i]!) });
        budget--;
      }
      if (head.next >= to.length) this.presenceQueue.shift();
    }
    if (this.presenceQueue.length > 0) setImmediate(() => this.handPresence());
  }

  private async addGroup(session: Session<S>, groupId: string): Promise<void> {
    if (session.groups.has(groupId)) return;
    session.recentlyLeft.delete(groupId);
    await this.feeds.acquire(groupId);
    // Read after the feed's baseline: a later removal is an event the feed will still deliver.
    const summary = await this.deps.directory.groupSummary(groupId, session.principal.userId);
    if (!summary) {
      this.feeds.release(groupId);
      return;
    }
    const lastSeq = this.follow(session, groupId);
    if (lastSeq < 0) return;
    this.send(session, groupAddedFrame({ ...summary, lastSeq }));
  }

  /** Past the limit a socket is cut with 4000, never silently skipped; it resyncs on reconnect. */
  private closeSlowConsumers(): void {
    const { transport, settings, metrics } = this.deps;
    // A buffer grows only by sending: an idle replica skips the walk over every session.
    if (!transport.takeActivity()) return;
    for (const session of this.byConnection.values()) {
      if (session.phase !== 'closed' && transport.bufferedAmount(session.socket) > settings.slowConsumerBytes) {
        metrics.slowConsumers.inc();
        this.disconnect(session, new Disconnect(CloseCode.slowConsumer, 'slow consumer'));
      }
    }
  }
}
