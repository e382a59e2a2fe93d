import type { TemplatedApp } from 'uWebSockets.js';
import { ALL_MEMBERS, type Bus } from '../bus/bus.js';
import type { ControlMessage } from '../delivery/control.js';
import type { Fanout, GroupFeeds } from '../delivery/group-feeds.js';
import { groupTopic, userTopic } from '../delivery/topics.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';
import { CloseCode } from '../protocol/errors.js';
import { groupAddedFrame, groupRemovedFrame, readMarkerFrame, type GroupSummary } from '../protocol/frames.js';
import type { Socket } from './socket-state.js';

const ANCHOR_TOPIC = 'anchor';

export interface LocalSocketsDeps {
  app: TemplatedApp;
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
  /** The user's summary of a group, or undefined when not a member. */
  groupSummary(groupId: string, userId: string): Promise<GroupSummary | undefined>;
}

/**
 * The sockets of this replica, by user and by connection. It is the feeds' fanout: group
 * events go to uWS topics (native fan-out, no JavaScript per socket), and it applies users'
 * control messages (joined a group, left one, read marker, revoked session) to their sockets.
 */
export class LocalSockets implements Fanout {
  private readonly byUser = new Map<string, Set<Socket>>();
  private readonly byConnection = new Map<string, Socket>();
  private feeds!: GroupFeeds;
  /** Something was sent since the last takeActivity(): only then can a socket's buffer have grown. */
  private activity = false;

  constructor(private readonly deps: LocalSocketsDeps) {}

  /** Set once: the feeds are built with this object as their fanout. */
  attachFeeds(feeds: GroupFeeds): void {
    this.feeds = feeds;
  }

  get count(): number {
    return this.byConnection.size;
  }

  /** Registers an authenticated socket; the first of a user subscribes the user's bus topic. */
  async register(ws: Socket): Promise<void> {
    const data = ws.getUserData();
    const userId = data.principal!.userId;
    this.byConnection.set(data.connectionId, ws);
    // uWS frees a socket's subscriber when it leaves its last topic, dropping a frame published
    // to that topic but not yet flushed: the event that removed the user. A topic nobody
    // publishes to (one for all sockets) keeps every group topic from being the last.
    ws.subscribe(ANCHOR_TOPIC);
    let sockets = this.byUser.get(userId);
    if (!sockets) {
      sockets = new Set();
      this.byUser.set(userId, sockets);
      sockets.add(ws);
      await this.deps.bus.subscribe(userTopic(userId));
    } else {
      sockets.add(ws);
    }
  }

  /** Forgets a closed socket and drops every reference it held. */
  unregister(ws: Socket): void {
    const data = ws.getUserData();
    if (!this.byConnection.delete(data.connectionId)) return;
    for (const groupId of data.groups) this.feeds.release(groupId);
    data.groups.clear();
    const userId = data.principal!.userId;
    const sockets = this.byUser.get(userId);
    sockets?.delete(ws);
    if (sockets && sockets.size === 0) {
      this.byUser.delete(userId);
      this.deps.bus
        .unsubscribe(userTopic(userId))
        .catch((err: unknown) => this.deps.logger.warn('bus unsubscribe failed', { userId, err }));
    }
  }

  /**
   * Starts a socket following a group whose feed reference the caller already took (and hands
   * over). Returns the seq after which the socket receives the group's events.
   */
  follow(ws: Socket, groupId: string): number {
    const data = ws.getUserData();
    if (data.phase === 'closed' || data.groups.has(groupId) || data.recentlyLeft.has(groupId)) {
      this.feeds.release(groupId);
      return -1;
    }
    data.groups.add(groupId);
    ws.subscribe(groupTopic(groupId));
    return this.feeds.deliveredSeq(groupId);
  }

  unfollow(ws: Socket, groupId: string): void {
    const data = ws.getUserData();
    if (!data.groups.delete(groupId)) return;
    if (data.phase !== 'closed') ws.unsubscribe(groupTopic(groupId));
    this.feeds.release(groupId);
  }

  /** True when a frame was sent since the last call. */
  takeActivity(): boolean {
    const was = this.activity;
    this.activity = false;
    return was;
  }

  /** Sends one frame to one socket, unless it has closed meanwhile. */
  send(ws: Socket, frame: string): void {
    if (ws.getUserData().phase === 'closed') return;
    this.activity = true;
    ws.cork(() => ws.send(frame));
    this.deps.metrics.framesOut.inc();
  }

  /**
   * Runs `fn` (an upgrade after an await) while some other socket is corked. uWS 20.30 can close
   * a socket upgraded inside its own `res.cork()` after an await, at random, right after `open`
   * (1006; uNetworking/uWebSockets#1929, fixed upstream after the version we can load): the cork's
   * epilogue reads the freed HTTP state of the reallocated socket. With another socket corked,
   * `res.cork()` only runs its callback and the 101 is written directly. uWS.js counts any cork
   * callback as corked, so no "not corked" warning either. With no other socket, `fn` runs as is.
   */
  withAnotherCorked(fn: () => void): void {
    const other = this.byConnection.values().next().value;
    if (other && other.getUserData().phase !== 'closed') other.cork(fn);
    else fn();
  }

  forEach(fn: (ws: Socket) => void): void {
    for (const ws of this.byConnection.values()) fn(ws);
  }

  // Fanout

  publish(groupId: string, data: string, origin?: string): void {
    this.activity = true;
    const originSocket = origin === undefined ? undefined : this.byConnection.get(origin);
    // A socket's own publish skips that socket: how typing avoids echoing to its sender.
    if (originSocket && originSocket.getUserData().phase !== 'closed') originSocket.publish(groupTopic(groupId), data);
    else this.deps.app.publish(groupTopic(groupId), data);
    this.deps.metrics.framesOut.inc();
  }

  memberLeft(groupId: string, userId: string): void {
    const everyone = userId === ALL_MEMBERS;
    for (const ws of everyone ? this.byConnection.values() : (this.byUser.get(userId) ?? [])) {
      const data = ws.getUserData();
      if (data.groups.has(groupId)) {
        this.unfollow(ws, groupId);
        this.send(ws, groupRemovedFrame(groupId));
      } else if (!everyone || data.phase === 'starting') {
        // A socket still starting may have listed the group already: it must not follow it.
        data.recentlyLeft.add(groupId);
      }
    }
  }

  // Control messages from the user's bus topic

  control(userId: string, message: ControlMessage): void {
    for (const ws of this.byUser.get(userId) ?? []) {
      const data = ws.getUserData();
      if (message.kind === 'revoke') {
        if (data.principal?.sessionId === message.sessionId) this.close(ws, CloseCode.revoked, 'session revoked');
      } else if (data.phase === 'starting') {
        data.deferred.push(message);
      } else if (data.phase === 'ready') {
        this.apply(ws, message);
      }
    }
  }

  /** Applies a control message to a ready socket. */
  apply(ws: Socket, message: ControlMessage): void {
    const data = ws.getUserData();
    if (message.kind === 'read') {
      if (message.except !== data.connectionId) this.send(ws, readMarkerFrame(message.group, message.seq));
    } else if (message.kind === 'group_added') {
      void this.addGroup(ws, message.group).catch((err: unknown) =>
        this.deps.logger.warn('could not follow a joined group', { groupId: message.group, err }),
      );
    }
  }

  close(ws: Socket, code: number, reason: string): void {
    const data = ws.getUserData();
    if (data.phase === 'closed') return;
    ws.end(code, reason);
  }

  private async addGroup(ws: Socket, groupId: string): Promise<void> {
    const data = ws.getUserData();
    if (data.groups.has(groupId)) return;
    data.recentlyLeft.delete(groupId);
    await this.feeds.acquire(groupId);
    // Read after the feed's baseline: a later removal is an event the feed will still deliver.
    const summary = await this.deps.groupSummary(groupId, data.principal!.userId);
    if (!summary) {
      this.feeds.release(groupId);
      return;
    }
    const lastSeq = this.follow(ws, groupId);
    if (lastSeq < 0) return;
    this.send(ws, groupAddedFrame({ ...summary, lastSeq }));
  }
}
