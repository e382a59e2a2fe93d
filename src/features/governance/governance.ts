import { findCommunity, findCommunityStanding } from '../communities/index.js';
import { findMessage, lockGroupLog } from '../messages/index.js';
import {
  deleteBan,
  deleteMute,
  findReport,
  insertReport,
  listBans,
  listReports,
  resolveReports,
  upsertBan,
  upsertMute,
  userNames,
} from './queries.js';
import { findAuthority, findMembership } from '../groups/index.js';
import type { ReportRow } from '../../platform/db/schema.js';
import { newId } from '../../platform/ids.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../protocol/errors.js';
import { reportFrame, type LogEvent } from '../../protocol/frames.js';
import type { ReportView } from '../../protocol/server-frames.js';
import {
  assertMayBan,
  assertMayBanFromReport,
  assertMayMute,
  handlesReports,
  requireCommunityAdmin,
  requireMembership,
  requireModerator,
  type Authority,
} from '../../platform/policy/index.js';
import { oweCommunityEvent } from '../webhooks/index.js';
import { notifyAdmins } from '../communities/index.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import type { Groups } from '../groups/index.js';
import type { Messages } from '../messages/index.js';
import { commit, publishCommitted } from '../../platform/db/outbox.js';

export type ReportAction = NonNullable<ReportRow['action']>;

/** How long a report resolved with `mute` mutes the sender when the admin gives no time. */
const DEFAULT_REPORT_MUTE_S = 24 * 3600;

/**
 * Community and group moderation (docs/protocol.md §8 "Privacy and safety"): bans, mutes and reports. Governors of a group
 * are its admins and its community's admins (chat/authority.ts); anyone else gets the answer
 * isolation gives them: `not_found` outside, `forbidden` for a plain member.
 */
export class Governance {
  constructor(
    private readonly deps: ChatDeps,
    private readonly groups: Groups,
    private readonly messages: Messages,
  ) {}

  // Bans

  /**
   * Bans a user (any id: the answer does not say whether they exist or were a member): out of the
   * community and every group of it at once, their requests and invitations dropped, and refused
   * from now on (docs/protocol.md §8 "Joining").
   */
  async ban(actorId: string, communityId: string, targetId: string, reason: string | undefined): Promise<void> {
    const community = await this.requireCommunityAdmin(communityId, actorId);
    if (targetId === actorId) throw conflict('you cannot ban yourself');
    await commit(this.deps, async (tx) => {
      // The ban row under the announcement group's lock, which every join takes to check bans: a
      // join in flight commits first (and is undone below), any later one sees the ban. Nothing
      // else is locked here, so the order ordinary groups before the announcement group holds.
      await lockGroupLog(tx, community.announcementGroupId);
      assertMayBan(await findMembership(tx, community.announcementGroupId, targetId));
      await upsertBan(tx, { communityId, userId: targetId, reason: reason ?? null, bannedBy: actorId });
    });
    // Then out of everything, requests and invitations too, as storage now stands (a join that
    // raced the ban included). Should this fail, the ban already refuses every join, and banning
    // again finishes it.
    await this.groups.removeFromCommunity(communityId, targetId, actorId);
  }

  async unban(actorId: string, communityId: string, targetId: string): Promise<void> {
    await this.requireCommunityAdmin(communityId, actorId);
    if (!(await deleteBan(this.deps.db, communityId, targetId))) throw notFound('ban');
  }

  async bans(actorId: string, communityId: string, cursor: string | undefined, limit: number) {
    await this.requireCommunityAdmin(communityId, actorId);
    const page = await listBans(this.deps.db, communityId, cursor, limit);
    return {
      bans: page.rows.map((b) => ({
        userId: b.userId,
        name: b.name,
        reason: b.reason,
        bannedBy: b.bannedBy,
        createdAt: b.createdAt.toISOString(),
      })),
      nextCursor: page.nextCursor,
    };
  }

  // Mutes

  /** Mutes a member of the group for `forS` seconds; every replica's membership cache hears of it before this returns. */
  async mute(actorId: string, groupId: string, targetId: string, forS: number): Promise<Date> {
    const authority = await this.requireModerator(groupId, actorId);
    if (targetId === actorId) throw conflict('you cannot mute yourself');
    const target = await findMembership(this.deps.db, groupId, targetId);
    if (!target) throw notFound('member');
    const targetCommunityRole =
      authority.community && (await findMembership(this.deps.db, authority.community.announcementGroupId, targetId));
    assertMayMute(authority, target, targetCommunityRole);
    const until = new Date(nowOf(this.deps) + forS * 1000);
    await upsertMute(this.deps.db, { groupId, userId: targetId, until, mutedBy: actorId });
    await publishCommitted(this.deps, { access: [{ group: groupId, user: targetId }] });
    return until;
  }

  /** Lifts a mute (no mute: nothing to do, same answer). */
  async unmute(actorId: string, groupId: string, targetId: string): Promise<void> {
    await this.requireModerator(groupId, actorId);
    if (await deleteMute(this.deps.db, groupId, targetId)) {
      await publishCommitted(this.deps, { access: [{ group: groupId, user: targetId }] });
    }
  }

  // Reports

  /**
   * A member reports a message: one report per reporter per message (a repeat changes nothing and
   * gets the same answer), with a snapshot of the message that outlives its deletion. The admins
   * who handle it (handlesReports) get a `report` frame; the reported sender never does.
   */
  async report(userId: string, groupId: string, seq: number, input: { reason: string; note?: string | undefined }): Promise<void> {
    const member = requireMembership(await findMembership(this.deps.db, groupId, userId));
    const message = await findMessage(this.deps.db, groupId, seq);
    if (!message || message.deleted) throw notFound('message');
    const community = member.communityId && member.kind !== 'direct' ? await findCommunity(this.deps.db, member.communityId) : undefined;
    await commit(this.deps, async (tx, outbox) => {
      const row = await insertReport(tx, {
        id: newId('r'),
        communityId: community?.id ?? null,
        groupId,
        seq,
        senderId: message.senderId,
        reporterId: userId,
        reason: input.reason,
        note: input.note || null,
        snapshot: snapshotOf(message),
      });
      if (!row) return;
      // Nobody governs a direct group: the report is kept, and reaches no admin.
      if (member.kind === 'direct') return;
      const [view] = await this.views(tx, [row]);
      await notifyAdmins(tx, outbox, [community?.announcementGroupId ?? groupId], reportFrame(view!), message.senderId);
      if (community) await oweCommunityEvent(tx, community.id, 'report', { group: groupId, report: view });
    });
  }

  /** A community's queue, for its admins: reports of every group of it. */
  async communityReports(actorId: string, communityId: string, query: ReportQuery) {
    await this.requireCommunityAdmin(communityId, actorId);
    return this.page({ communityId }, actorId, query);
  }

  /** One group's queue, for those who handle its reports. */
  async groupReports(actorId: string, groupId: string, query: ReportQuery) {
    const authority = await this.requireModerator(groupId, actorId);
    if (!handlesReports(authority)) throw forbidden('only community admins handle reports of a community group');
    return this.page({ groupId }, actorId, query);
  }

  /**
   * Acts on a report and resolves every open report of that message. Only a governor of the
   * message's group who did not send it finds the report at all.
   */
  async resolve(actorId: string, reportId: string, input: { action: ReportAction; forS?: number | undefined }): Promise<ReportView> {
    const report = await findReport(this.deps.db, reportId);
    const authority = report && (await findAuthority(this.deps.db, report.groupId, actorId));
    if (!report || !authority || !handlesReports(authority) || authority.kind === 'direct' || report.senderId === actorId) {
      throw notFound('report');
    }
    if (report.status === 'resolved') throw conflict('this report is already resolved');
    const { groupId, seq, senderId } = report;
    switch (input.action) {
      case 'dismiss':
        break;
      case 'delete':
        await ignoring(['conflict', 'not_found'], () => this.messages.delete(actorId, { group: groupId, target: seq }));
        break;
      case 'mute':
        await ignoring(['not_found'], () => this.mute(actorId, groupId, senderId, input.forS ?? DEFAULT_REPORT_MUTE_S));
        break;
      case 'remove':
        await ignoring(['not_found'], () => this.groups.removeMember(actorId, groupId, senderId));
        break;
      case 'ban':
        assertMayBanFromReport(authority);
        await this.ban(actorId, authority.community.id, senderId, `report ${reportId}: ${report.reason}`.slice(0, 500));
        break;
    }
    return commit(this.deps, async (tx, outbox) => {
      const resolved = await resolveReports(tx, groupId, seq, { action: input.action, resolvedBy: actorId });
      const views = await this.views(tx, resolved);
      const handlers = [authority.community?.announcementGroupId ?? groupId];
      // Other admins' queues follow: the resolved reports reach them as `report` frames too.
      for (const view of views) await notifyAdmins(tx, outbox, handlers, reportFrame(view), senderId);
      return views.find((v) => v.id === reportId) ?? (await this.views(tx, [(await findReport(tx, reportId))!]))[0]!;
    });
  }

  // Helpers

  private async page(where: { communityId: string } | { groupId: string }, viewerId: string, query: ReportQuery) {
    const cursor = query.cursor === undefined ? undefined : Number(query.cursor);
    if (cursor !== undefined && !(Number.isSafeInteger(cursor) && cursor > 0)) throw badRequest('invalid cursor');
    const page = await listReports(this.deps.db, where, query.status ?? 'open', viewerId, cursor, query.limit ?? 50);
    return { reports: await this.views(this.deps.db, page.rows), nextCursor: page.nextCursor === null ? null : String(page.nextCursor) };
  }

  private async views(db: Parameters<typeof userNames>[0], rows: ReportRow[]): Promise<ReportView[]> {
    const names = await userNames(
      db,
      rows.map((r) => r.reporterId),
    );
    return rows.map((r) => ({
      id: r.id,
      community: r.communityId,
      group: r.groupId,
      seq: r.seq,
      reason: r.reason,
      note: r.note,
      reporter: { id: r.reporterId, name: names.get(r.reporterId) ?? r.reporterId },
      snapshot: r.snapshot as ReportView['snapshot'],
      status: r.status,
      action: r.action,
      resolvedBy: r.resolvedBy,
      resolvedAt: r.resolvedAt ? r.resolvedAt.toISOString() : null,
      createdAt: r.createdAt.toISOString(),
    }));
  }

  /** A governor of a group that has any: both members of a direct group are equals (docs/protocol.md §8 "Privacy and safety"). */
  private async requireModerator(groupId: string, userId: string): Promise<Authority> {
    return requireModerator(await findAuthority(this.deps.db, groupId, userId));
  }

  /** The community, when the caller is one of its admins; not_found for outsiders, forbidden for members. */
  private async requireCommunityAdmin(communityId: string, userId: string) {
    return requireCommunityAdmin(await findCommunityStanding(this.deps.db, communityId, userId)).community;
  }
}

export interface ReportQuery {
  status?: 'open' | 'resolved' | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

/** What a report keeps of the message: its sender, text, time, and attachments when it has them. */
function snapshotOf(message: LogEvent): Record<string, unknown> {
  const attachments = message.data?.attachments;
  return {
    sender: message.senderId,
    text: message.text,
    ts: message.ts.toISOString(),
    ...(Array.isArray(attachments) ? { attachments } : {}),
  };
}

/** Runs an action whose listed failures mean "already done" (the message gone, the member left). */
async function ignoring(codes: AppError['code'][], action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (!(err instanceof AppError && codes.includes(err.code))) throw err;
  }
}
