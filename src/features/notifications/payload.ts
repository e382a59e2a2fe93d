// The push payload of docs/protocol.md §8 "Notifications": JSON, at most 3 KB before encryption, text cut to 180 characters.

export const PREVIEW_CHARS = 180;
export const MAX_PAYLOAD_BYTES = 3072;

export interface PushSource {
  senderId: string;
  senderName: string | null;
  text: string | null;
  ts: Date;
  groupKind: 'group' | 'announcement' | 'direct';
  groupName: string;
  communityId: string | null;
}

/** Cuts to `max` characters (code points, so no emoji is split in half), with an ellipsis when cut. */
export function preview(text: string, max: number): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

export function buildPayload(groupId: string, seq: number, source: PushSource, mention: boolean): Record<string, unknown> {
  const sender = { id: source.senderId, name: preview(source.senderName ?? source.senderId, 64) };
  const kind = mention ? 'mention' : source.groupKind === 'group' ? 'message' : source.groupKind;
  const text = preview(source.text ?? '', PREVIEW_CHARS);
  const payload: Record<string, unknown> = {
    group: groupId,
    seq,
    kind,
    sender,
    // A direct group is named after the other member: the sender.
    title: preview(source.groupKind === 'direct' ? sender.name : source.groupName, 64),
    body: source.groupKind === 'group' ? preview(`${sender.name}: ${text}`, PREVIEW_CHARS) : text,
    ts: source.ts.toISOString(),
  };
  if (source.communityId) payload.community = source.communityId;
  return payload;
}

/**
 * Several messages in one push: the newest's fields, with the count as the body. A reminder
 * keeps its own body: when the event starts says more than how many messages came with it.
 */
export function coalescedPayload(payload: Record<string, unknown>, count: number): Record<string, unknown> {
  if (payload.kind === 'event_reminder') return { ...payload, count };
  return { ...payload, body: `${count} new messages`, count };
}

/** "📊 question" for a poll, "📅 title" for an event, or null for neither. */
export function contentLine(data: Record<string, unknown> | null): string | null {
  const poll = data?.poll as { question?: unknown } | undefined;
  const event = data?.event as { title?: unknown } | undefined;
  if (typeof poll?.question === 'string') return `📊 ${poll.question}`;
  if (typeof event?.title === 'string') return `📅 ${event.title}`;
  return null;
}

/**
 * The push of an event's reminder: kind `event_reminder`, the event's title, and when and where
 * in the body (an instant in UTC: the push carries `startsAt` for the device to show in its own zone).
 */
export function reminderPayload(
  groupId: string,
  seq: number,
  source: PushSource,
  event: { title: string; startsAt: string; location?: string | undefined },
): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    group: groupId,
    seq,
    kind: 'event_reminder',
    sender: { id: source.senderId, name: preview(source.senderName ?? source.senderId, 64) },
    title: preview(`📅 ${event.title}`, 64),
    body: preview(`${source.groupName}: starts ${event.startsAt}${event.location ? ` · ${event.location}` : ''}`, PREVIEW_CHARS),
    startsAt: event.startsAt,
    ts: source.ts.toISOString(),
  };
  if (source.communityId) payload.community = source.communityId;
  return payload;
}

/** "📎 a.pdf, b.jpg" for a message's files (its metadata in `data.attachments`), or null without any. */
export function attachmentsLine(data: Record<string, unknown> | null): string | null {
  const files = (data?.attachments as { name?: unknown }[] | undefined) ?? [];
  const names = files.map((f) => (typeof f.name === 'string' ? f.name : 'file'));
  return names.length > 0 ? `📎 ${names.join(', ')}` : null;
}
