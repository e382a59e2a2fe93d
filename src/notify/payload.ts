// The push payload of PROTOCOL.md §7: JSON, at most 3 KB before encryption, text cut to 180 characters.

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

/** Several messages in one push: the newest's fields, with the count as the body. */
export function coalescedPayload(payload: Record<string, unknown>, count: number): Record<string, unknown> {
  return { ...payload, body: `${count} new messages`, count };
}

/** "📎 a.pdf, b.jpg" for a message's files (its metadata in `data.attachments`), or null without any. */
export function attachmentsLine(data: Record<string, unknown> | null): string | null {
  const files = (data?.attachments as { name?: unknown }[] | undefined) ?? [];
  const names = files.map((f) => (typeof f.name === 'string' ? f.name : 'file'));
  return names.length > 0 ? `📎 ${names.join(', ')}` : null;
}
