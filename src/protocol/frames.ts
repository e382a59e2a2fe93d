import type { EventRow } from '../db/schema.js';
import type { AppError } from './errors.js';
import type { CommandId } from './commands.js';
import type { GroupSummary } from './server-frames.js';

export type { GroupSummary, HistoryMessage } from './server-frames.js';

// Server → client frames (PROTOCOL.md §4). Each is built as a plain object in the field order the
// protocol shows and serialised once; events are serialised by the publisher and travel as bytes.

/** A stored log event as the domain hands it to the wire: the row of the log. */
export type LogEvent = EventRow;

/** The event object of PROTOCOL.md §4 "Server frames", as sync and live delivery send it. */
export function eventFrame(e: LogEvent): Record<string, unknown> {
  const head = { type: 'event', group: e.groupId, seq: e.seq, ts: e.ts.toISOString(), sender: e.senderId, kind: e.kind };
  const data = e.data ?? {};
  switch (e.kind) {
    case 'message':
      return {
        ...head,
        clientMsgId: e.clientMsgId,
        text: e.text,
        replyTo: e.replyTo,
        mentions: data.mentions ?? [],
        ...(e.editedAt ? { editedAt: e.editedAt.toISOString() } : {}),
        ...(e.deleted ? { deleted: true } : {}),
      };
    case 'edit':
      return { ...head, target: e.target, text: e.text };
    case 'delete':
      return { ...head, target: e.target };
    case 'reaction':
      return { ...head, target: e.target, emoji: data.emoji ?? null };
    case 'member':
      return { ...head, member: data.member, action: data.action, ...(data.role ? { role: data.role } : {}) };
    case 'group':
      return { ...head, changes: data.changes ?? {} };
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

export const typingFrame = (group: string, user: string) => JSON.stringify({ type: 'typing', group, user });
export const groupAddedFrame = (group: GroupSummary) => JSON.stringify({ type: 'group_added', group });
export const groupRemovedFrame = (group: string) => JSON.stringify({ type: 'group_removed', group });
export const readMarkerFrame = (group: string, seq: number) => JSON.stringify({ type: 'read', group, seq });
export const statsFrame = (stats: { group: string; seq: number; members: number; delivered: number; notified: number; read: number }) =>
  JSON.stringify({ type: 'stats', ...stats });
