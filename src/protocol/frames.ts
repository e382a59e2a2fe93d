import type { EventRow } from '../platform/db/schema.js';
import type { AppError } from './errors.js';
import type { CommandId } from './commands.js';
import type { AttachmentFrame, GroupSummary, InvitedGroup, Known, ProfileView, ReportView } from './server-frames.js';

export type { GroupSummary, HistoryMessage, InvitedGroup } from './server-frames.js';

/** An attachment's metadata as messages carry it: `{id,name,contentType,size,width?,height?,blurhash?}`. */
export type AttachmentMeta = Known<AttachmentFrame>;

/** The attachments a stored message carries (kept in its `data`); none once it is deleted. */
export const attachmentsOf = (e: Pick<LogEvent, 'data' | 'deleted'>): AttachmentMeta[] =>
  e.deleted ? [] : ((e.data?.attachments as AttachmentMeta[] | undefined) ?? []);

/**
 * A disappearing message past its time: erased by the sweeper, or due and not swept yet (its
 * content is then withheld all the same).
 */
export const isExpired = (e: Pick<LogEvent, 'expiresAt' | 'expired'>, now = Date.now()): boolean =>
  e.expired || (e.expiresAt !== null && e.expiresAt.getTime() <= now);
/** A message's poll as stored: its definition, and `closed` once voting ended. */
export type StoredPoll = { question: string; options: string[]; multiple: boolean; closed?: boolean };
/** A message's event as stored (instants in UTC). */
export type StoredEvent = { title: string; startsAt: string; endsAt?: string; location?: string };

export const pollOf = (e: Pick<LogEvent, 'data' | 'deleted' | 'kind'>): StoredPoll | undefined =>
  e.kind === 'message' && !e.deleted ? (e.data?.poll as StoredPoll | undefined) : undefined;
export const eventOf = (e: Pick<LogEvent, 'data' | 'deleted' | 'kind'>): StoredEvent | undefined =>
  e.kind === 'message' && !e.deleted ? (e.data?.event as StoredEvent | undefined) : undefined;

// Server → client frames (docs/protocol.md §4 "Commands"). Each is built as a plain object in the field order the
// protocol shows and serialised once; events are serialised by the publisher and travel as bytes.

/** A stored log event as the domain hands it to the wire: the row of the log. */
export type LogEvent = EventRow;

/** The event object of docs/protocol.md §5, as sync and live delivery send it. */
export function eventFrame(e: LogEvent): Record<string, unknown> {
  const head = { type: 'event', group: e.groupId, seq: e.seq, ts: e.ts.toISOString(), sender: e.senderId, kind: e.kind };
  const data = e.data ?? {};
  switch (e.kind) {
    case 'message':
      if (isExpired(e)) {
        return {
          ...head,
          clientMsgId: e.clientMsgId,
          text: null,
          replyTo: null,
          mentions: [],
          expiresAt: e.expiresAt?.toISOString(),
          expired: true,
        };
      }
      return {
        ...head,
        clientMsgId: e.clientMsgId,
        text: e.text,
        replyTo: e.replyTo,
        mentions: data.mentions ?? [],
        ...(attachmentsOf(e).length > 0 ? { attachments: attachmentsOf(e) } : {}),
        ...(pollOf(e) ? { poll: pollOf(e) } : {}),
        ...(eventOf(e) ? { event: eventOf(e) } : {}),
        ...(e.editedAt ? { editedAt: e.editedAt.toISOString() } : {}),
        ...(e.deleted ? { deleted: true } : {}),
        ...(e.expiresAt ? { expiresAt: e.expiresAt.toISOString() } : {}),
      };
    case 'edit':
      // An edit of a disappearing message expires with it.
      return isExpired(e) ? { ...head, target: e.target, text: null, expired: true } : { ...head, target: e.target, text: e.text };
    case 'delete':
      return { ...head, target: e.target };
    case 'reaction':
      return { ...head, target: e.target, emoji: data.emoji ?? null };
    case 'member':
      return { ...head, member: data.member, action: data.action, ...(data.role ? { role: data.role } : {}) };
    case 'group':
      return { ...head, changes: data.changes ?? {} };
    case 'reactions':
      return { ...head, target: e.target, counts: data.counts ?? {} };
    case 'hidden':
      return head;
    case 'vote':
      return { ...head, target: e.target, voter: e.senderId, options: data.options ?? [] };
    case 'rsvp':
      return { ...head, target: e.target, user: e.senderId, answer: data.answer };
    case 'tally':
    case 'poll_closed':
      return { ...head, target: e.target, counts: data.counts };
  }
}

export const encodeEvent = (e: LogEvent): string => JSON.stringify(eventFrame(e));

export const ackFrame = (re: CommandId, fields: Record<string, unknown> = {}) => JSON.stringify({ type: 'ack', re, ...fields });

/** The ack of a command that appended an event: where it landed in the log. */
export const eventAckFrame = (re: CommandId, r: { group: string; seq: number; ts: Date }) =>
  ackFrame(re, { group: r.group, seq: r.seq, ts: r.ts.toISOString() });

export const errorFrame = (re: CommandId | undefined, error: AppError) =>
  JSON.stringify({
    type: 'error',
    ...(re === undefined ? {} : { re }),
    code: error.code,
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
  });

export const readyFrame = (
  re: CommandId | undefined,
  user: { id: string; name: string },
  sessionId: string | null,
  groups: GroupSummary[],
) => JSON.stringify({ type: 'ready', ...(re === undefined ? {} : { re }), user, sessionId, groups });

/** Messages of a group the expiry sweeper has just erased (not logged: their seqs stay in the log, with `expired: true`). */
export const expiredFrame = (group: string, seqs: number[]) => JSON.stringify({ type: 'expired', group, seqs });
export const typingFrame = (group: string, user: string) => JSON.stringify({ type: 'typing', group, user });
export const groupAddedFrame = (group: GroupSummary) => JSON.stringify({ type: 'group_added', group });
export const groupRemovedFrame = (group: string) => JSON.stringify({ type: 'group_removed', group });
/** An invitation to a group the user is not in: what anyone invited may see of it, and who invited. */
export const groupInvitedFrame = (group: InvitedGroup, by: { id: string; name: string }) =>
  JSON.stringify({ type: 'group_invited', group, by });
/** A roster change of a community, for its admins (and a member's own role change, for them): never logged. */
export const memberChangedFrame = (community: string, user: { id: string; name: string }, action: string, role: string | null) =>
  JSON.stringify({ type: 'member_changed', community, user, action, role });
export const userFrame = (user: ProfileView) => JSON.stringify({ type: 'user', user });
export const presenceFrame = (user: string, online: boolean, lastSeen: number | null) =>
  JSON.stringify({ type: 'presence', user, online, lastSeen: lastSeen === null ? null : new Date(lastSeen).toISOString() });
export const readMarkerFrame = (group: string, seq: number) => JSON.stringify({ type: 'read', group, seq });

/** To community admins' sockets when someone asks to join the community or one of its groups (not logged). */
export const joinRequestFrame = (community: string, group: string, user: { id: string; name: string }) =>
  JSON.stringify({ type: 'join_request', community, group, user });
/** To the admins who may act on a new report (not logged). */
export const reportFrame = (report: ReportView) => JSON.stringify({ type: 'report', report });
export const statsFrame = (stats: { group: string; seq: number; members: number; delivered: number; notified: number; read: number }) =>
  JSON.stringify({ type: 'stats', ...stats });
