import { findGroup, findMembership } from '../groups/index.js';
import { presenceAudience, presenceOfGroupMembers } from './queries.js';
import type { Presence, PresenceChange } from './presence-store.js';
import { presenceFrame } from '../../protocol/frames.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { ChatDeps } from '../../platform/deps.js';
import { type Job, JobTrigger } from '../../platform/jobs/job.js';
import { assertSharesPresence, requireMembership } from '../../platform/policy/index.js';

export interface PresenceSettings {
  /** Presence goes only through ordinary and direct groups of at most this many members (PRESENCE_MAX_MEMBERS). */
  maxMembers: number;
  /** Changes are gathered this long, the latest of each user kept (PRESENCE_COALESCE_MS). */
  coalesceMs: number;
}

/** Users whose audience one query looks up. */
const SUBJECTS_PER_QUERY = 500;

/**
 * Presence frames (docs/protocol.md §8 "Profiles and presence"): the changes this replica's presence reports (its users'
 * first and last sessions, a dead replica's users) are gathered for `coalesceMs` and sent, the
 * latest per user, to the connected users who share an ordinary or direct group of at most
 * `maxMembers` with them, neither having blocked the other, when the user's `lastSeen` setting
 * is not `nobody`. The audience is read from storage at send time, so a removal or a block counts
 * at once. Cost per flush, per SUBJECTS_PER_QUERY changed users: one audience query, one
 * presence lookup, and one bus message to every replica (each subject's frame once, and the
 * connected viewers with the indices of theirs: bounded by changes × maxMembers × groups of each,
 * never by the size of a large group), which each replica's hub hands to the sessions it holds.
 */
export class PresenceFeed {
  private pending = new Map<string, PresenceChange & { hidden?: boolean }>();
  private readonly trigger = new JobTrigger();
  private closed = false;

  constructor(
    private readonly deps: ChatDeps,
    private readonly presence: Presence,
    private readonly settings: PresenceSettings,
  ) {
    presence.onChange((change) => this.queue(change));
  }

  /** The user chose `lastSeen: nobody`: those who saw them get them offline, without a time, once. */
  hidden(userId: string): void {
    this.queue({ userId, online: false, lastSeen: null, hidden: true });
  }

  /**
   * `GET /v1/groups/:id/presence`: the other members of a small ordinary or direct group whose
   * presence the caller may see. An announcement group or one past the size limit is `bad_request`.
   */
  async ofGroup(viewerId: string, groupId: string): Promise<HttpReply<'presence'>> {
    const [group, membership] = await Promise.all([findGroup(this.deps.db, groupId), findMembership(this.deps.db, groupId, viewerId)]);
    requireMembership(group && membership);
    assertSharesPresence(group!, this.settings.maxMembers);
    const members = await presenceOfGroupMembers(this.deps.db, groupId, viewerId);
    const [connected, lastSeen] = await Promise.all([this.presence.connectedAmong(members), this.presence.lastSeenOf(members)]);
    return {
      presence: members.map((user) => {
        const online = connected.has(user);
        const at = online ? undefined : lastSeen.get(user);
        return { user, online, lastSeen: at === undefined ? null : new Date(at).toISOString() };
      }),
    };
  }

  /** Queued: the first change kicks it for coalesceMs later; at stop it sends what is gathered, later changes are dropped. */
  job(): Job {
    return {
      name: 'presence.frames',
      kind: 'queued',
      trigger: this.trigger,
      run: () => this.send(),
      stop: () => {
        this.closed = true;
        return this.send();
      },
    };
  }

  private queue(change: PresenceChange & { hidden?: boolean }): void {
    if (this.closed) return;
    this.pending.set(change.userId, change);
    // One send at a time (the runner's rule): a slow one delays the next, whose batch grows meanwhile.
    this.trigger.kick(this.settings.coalesceMs);
  }

  private async send(): Promise<void> {
    const changes = [...this.pending.values()];
    this.pending = new Map();
    try {
      for (let i = 0; i < changes.length; i += SUBJECTS_PER_QUERY) await this.sendSome(changes.slice(i, i + SUBJECTS_PER_QUERY));
    } catch (err) {
      this.deps.logger.warn('presence frames not sent', { err });
    }
  }

  private async sendSome(changes: (PresenceChange & { hidden?: boolean })[]): Promise<void> {
    const byUser = new Map(changes.map((c) => [c.userId, c]));
    const visible = changes.filter((c) => !c.hidden).map((c) => c.userId);
    const hidden = changes.filter((c) => c.hidden).map((c) => c.userId);
    const pairs = [
      ...(await presenceAudience(this.deps.db, visible, this.settings.maxMembers)),
      ...(await presenceAudience(this.deps.db, hidden, this.settings.maxMembers, { evenIfHidden: true })),
    ];
    if (pairs.length === 0) return;
    const connected = await this.presence.connectedAmong([...new Set(pairs.map((p) => p.viewer))]);
    // One message, not one per viewer: a burst of publishes per flush slowed the bus for everything else.
    const frames: string[] = [];
    const frameOf = new Map<string, number>();
    const to = new Map<string, number[]>();
    for (const { subject, viewer } of pairs) {
      if (!connected.has(viewer)) continue;
      let index = frameOf.get(subject);
      if (index === undefined) {
        const c = byUser.get(subject)!;
        index = frames.push(presenceFrame(subject, c.online, c.lastSeen)) - 1;
        frameOf.set(subject, index);
      }
      const list = to.get(viewer);
      if (list) list.push(index);
      else to.set(viewer, [index]);
    }
    if (to.size > 0) await this.deps.publisher.presence({ frames, to: [...to] });
  }
}
