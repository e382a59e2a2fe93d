import { z } from 'zod';
import type { CommandType } from './commands.js';
import { tryParseJson } from './json.js';

// Server → client frames of docs/protocol.md §4 "Commands" as zod schemas, for clients (src/client) and tests.
// The server does not parse these: it builds frames with the plain encoders of frames.ts, and
// test/unit/server-frames.test.ts checks that what those encoders write parses here.
// Objects are loose: a newer server may add fields (the protocol extends, never breaks), and
// a client keeps them instead of failing.

const seq = z.number().int().min(0);
const commandId = z.union([z.string(), z.number()]);
const role = z.enum(['owner', 'admin', 'member']);

export const groupSummarySchema = z
  .object({
    id: z.string(),
    kind: z.enum(['group', 'announcement', 'direct']),
    name: z.string(),
    communityId: z.string().nullable(),
    role,
    lastSeq: seq,
    readSeq: seq,
    /** How many members the group has (announcement groups: the one thing a member learns of the roster). */
    memberCount: z.number().int().min(0).optional(),
    /** v1.1 (docs/protocol.md §8 "Notifications"): the caller's notification level here, and until when it is muted. */
    level: z.enum(['all', 'mentions', 'none']).optional(),
    muteUntil: z.string().nullable().optional(),
    /** v1.1 (docs/protocol.md §8): seqs of the pinned messages, most recently pinned first. */
    pins: z.array(z.number().int()).optional(),
  })
  .loose();

/** A group someone is invited to (not a member yet): what an invitation shows of it. */
export const invitedGroupSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['group', 'announcement', 'direct']),
    name: z.string(),
    description: z.string(),
    communityId: z.string().nullable(),
    memberCount: z.number().int().min(0),
  })
  .loose();

/** An attachment as messages carry it (docs/protocol.md §8 "Files (attachments)"). */
export const attachmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    contentType: z.string(),
    size: z.number().int().min(1),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    blurhash: z.string().optional(),
  })
  .loose();

const eventHead = {
  type: z.literal('event'),
  group: z.string(),
  seq: z.number().int().min(1),
  ts: z.string(),
  sender: z.string(),
};

/** A poll as a message carries it (docs/protocol.md §8 "Polls and events"); `closed` once voting ended. */
export const pollSchema = z
  .object({ question: z.string(), options: z.array(z.string()), multiple: z.boolean(), closed: z.boolean().optional() })
  .loose();

/** An event (meeting, shift) as a message carries it: instants in UTC. */
export const eventDefinitionSchema = z
  .object({ title: z.string(), startsAt: z.string(), endsAt: z.string().optional(), location: z.string().optional() })
  .loose();

const rsvpAnswer = z.enum(['going', 'maybe', 'no']);
/** How many members gave each answer to an event. */
export const rsvpCountsSchema = z.object({ going: z.number(), maybe: z.number(), no: z.number() }).loose();

export const messageEventSchema = z
  .object({
    ...eventHead,
    kind: z.literal('message'),
    clientMsgId: z.string().nullable(),
    text: z.string().nullable(),
    replyTo: z.number().int().nullable(),
    mentions: z.array(z.string()),
    /** Present when the message has files. */
    attachments: z.array(attachmentSchema).optional(),
    /** Present when the message is a poll (and is not deleted). */
    poll: pollSchema.optional(),
    /** Present when the message is an event (and is not deleted). */
    event: eventDefinitionSchema.optional(),
    editedAt: z.string().optional(),
    deleted: z.boolean().optional(),
    /** v1.1 (docs/protocol.md §8): sent while disappearing messages were on: when it disappears. */
    expiresAt: z.string().optional(),
    /** v1.1 (docs/protocol.md §8): erased on expiry (text null, no mentions or files); its seq stays. */
    expired: z.boolean().optional(),
  })
  .loose();

export const eventSchema = z.discriminatedUnion('kind', [
  messageEventSchema,
  z.object({ ...eventHead, kind: z.literal('edit'), target: z.number().int(), text: z.string().nullable() }).loose(),
  z.object({ ...eventHead, kind: z.literal('delete'), target: z.number().int() }).loose(),
  z.object({ ...eventHead, kind: z.literal('reaction'), target: z.number().int(), emoji: z.string().nullable() }).loose(),
  z
    .object({
      ...eventHead,
      kind: z.literal('member'),
      member: z.string(),
      action: z.enum(['added', 'removed', 'joined', 'left', 'promoted', 'demoted']),
      role: role.optional(),
    })
    .loose(),
  z.object({ ...eventHead, kind: z.literal('group'), changes: z.record(z.string(), z.unknown()) }).loose(),
  /** An announcement group's reaction tally of one message (sender is empty: nobody's). */
  z.object({ ...eventHead, kind: z.literal('reactions'), target: z.number().int(), counts: z.record(z.string(), z.number()) }).loose(),
  /** A place in the log with nothing to show (an announcement group's roster change from before 0002). */
  z.object({ ...eventHead, kind: z.literal('hidden') }).loose(),
  /** A member's vote (ordinary and direct groups); `options: []` retracts it. */
  z
    .object({ ...eventHead, kind: z.literal('vote'), target: z.number().int(), voter: z.string(), options: z.array(z.number().int()) })
    .loose(),
  /** A member's answer to an event (ordinary and direct groups). */
  z.object({ ...eventHead, kind: z.literal('rsvp'), target: z.number().int(), user: z.string(), answer: rsvpAnswer }).loose(),
  /**
   * An announcement group's counts of one poll (votes per option, in option order) or event
   * (answers), at most one per message per TALLY_INTERVAL_MS; sender is empty: nobody's.
   */
  z
    .object({ ...eventHead, kind: z.literal('tally'), target: z.number().int(), counts: z.union([z.array(z.number()), rsvpCountsSchema]) })
    .loose(),
  /** Voting on a poll ended; `counts` are its final votes per option. */
  z.object({ ...eventHead, kind: z.literal('poll_closed'), target: z.number().int(), counts: z.array(z.number()) }).loose(),
]);

export const historyMessageSchema = z
  .object({
    seq: z.number().int().min(1),
    ts: z.string(),
    sender: z.string(),
    text: z.string().nullable(),
    replyTo: z.number().int().nullable(),
    mentions: z.array(z.string()),
    clientMsgId: z.string().nullable(),
    editedAt: z.string().nullable(),
    deleted: z.boolean(),
    reactions: z.record(z.string(), z.number()),
    /** Present when the message has files (and is not deleted). */
    attachments: z.array(attachmentSchema).optional(),
    /** v1.1 (docs/protocol.md §8): when a disappearing message disappears, and whether it has. */
    expiresAt: z.string().optional(),
    expired: z.boolean().optional(),
    /** A poll with its votes per option now, and the caller's own vote (`[]`: none). */
    poll: pollSchema
      .extend({ closed: z.boolean(), counts: z.array(z.number()), mine: z.array(z.number()) })
      .loose()
      .optional(),
    /** An event with its answers now, and the caller's own (null: none). */
    event: eventDefinitionSchema.extend({ counts: rsvpCountsSchema, mine: rsvpAnswer.nullable() }).loose().optional(),
  })
  .loose();

/** A report of a message as its admins see it (docs/protocol.md §8 "Moderation"). */
export const reportSchema = z
  .object({
    id: z.string(),
    community: z.string().nullable(),
    group: z.string(),
    seq: z.number().int().min(1),
    reason: z.string(),
    note: z.string().nullable(),
    reporter: z.object({ id: z.string(), name: z.string() }).loose(),
    /** The message as it was when reported; kept when the message is deleted. */
    snapshot: z
      .object({ sender: z.string(), text: z.string().nullable(), ts: z.string(), attachments: z.array(z.unknown()).optional() })
      .loose(),
    status: z.enum(['open', 'resolved']),
    action: z.enum(['dismiss', 'delete', 'mute', 'remove', 'ban']).nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .loose();

export const errorBodySchema = z
  .object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() })
  .loose();

/** A user as others see them (docs/protocol.md §8 "Profiles and presence"): `avatar` is an image attachment's id. */
export const profileSchema = z.object({ id: z.string(), name: z.string(), avatar: z.string().nullable() }).loose();

export const serverFrameSchema = z.discriminatedUnion('type', [
  eventSchema,
  z
    .object({
      type: z.literal('ready'),
      re: commandId.optional(),
      user: z.object({ id: z.string(), name: z.string() }).loose(),
      sessionId: z.string().nullable(),
      groups: z.array(groupSummarySchema),
    })
    .loose(),
  z.object({ type: z.literal('ack'), re: commandId, group: z.string().optional(), seq: seq.optional(), ts: z.string().optional() }).loose(),
  z
    .object({ type: z.literal('error'), re: commandId.optional(), correlationId: z.string().optional() })
    .extend(errorBodySchema.shape)
    .loose(),
  z
    .object({
      type: z.literal('synced'),
      re: commandId,
      groups: z.record(z.string(), z.object({ events: z.array(eventSchema), hasMore: z.boolean() }).loose()),
    })
    .loose(),
  z
    .object({ type: z.literal('history'), re: commandId, group: z.string(), messages: z.array(historyMessageSchema), hasMore: z.boolean() })
    .loose(),
  z.object({ type: z.literal('pong'), re: commandId }).loose(),
  z.object({ type: z.literal('typing'), group: z.string(), user: z.string() }).loose(),
  /** v1.1 (docs/protocol.md §8): these messages of the group disappeared (not logged; their events now say `expired: true`). */
  z.object({ type: z.literal('expired'), group: z.string(), seqs: z.array(z.number().int().min(1)) }).loose(),
  z.object({ type: z.literal('group_added'), group: groupSummarySchema }).loose(),
  z.object({ type: z.literal('group_removed'), group: z.string() }).loose(),
  z.object({ type: z.literal('read'), group: z.string(), seq }).loose(),
  z
    .object({
      type: z.literal('join_request'),
      community: z.string(),
      group: z.string(),
      user: z.object({ id: z.string(), name: z.string() }).loose(),
    })
    .loose(),
  z.object({ type: z.literal('report'), report: reportSchema }).loose(),
  z
    .object({ type: z.literal('group_invited'), group: invitedGroupSchema, by: z.object({ id: z.string(), name: z.string() }).loose() })
    .loose(),
  z
    .object({
      type: z.literal('member_changed'),
      community: z.string(),
      user: z.object({ id: z.string(), name: z.string() }).loose(),
      action: z.enum(['added', 'removed', 'joined', 'left', 'promoted', 'demoted']),
      role: role.nullable(),
    })
    .loose(),
  /** v1.1 (docs/protocol.md §8): a profile changed (name or avatar), to those who may see it. */
  z.object({ type: z.literal('user'), user: profileSchema }).loose(),
  /** v1.1 (docs/protocol.md §8): a user came online or went offline (`lastSeen`: null while online or when hidden). */
  z.object({ type: z.literal('presence'), user: z.string(), online: z.boolean(), lastSeen: z.string().nullable() }).loose(),
  /** v1.1 (docs/protocol.md §8 "Notifications"): an announcement's reach, to its admins, at most once a second while it changes. */
  z
    .object({
      type: z.literal('stats'),
      group: z.string(),
      seq,
      members: seq,
      delivered: seq,
      notified: seq,
      read: seq,
    })
    .loose(),
]);

export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type ServerFrameType = ServerFrame['type'];
export type FrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;
/** The frame that answers each command (an `error` frame may answer any of them instead). */
type Replies = { auth: 'ready'; sync: 'synced'; history: 'history'; ping: 'pong' };
export type ReplyTo<T extends CommandType> = FrameOf<T extends keyof Replies ? Replies[T] : 'ack'>;
export type GroupEvent = z.infer<typeof eventSchema>;
export type GroupEventKind = GroupEvent['kind'];
export type MessageEvent = z.infer<typeof messageEventSchema>;
export type GroupSummaryFrame = z.infer<typeof groupSummarySchema>;
export type HistoryMessageFrame = z.infer<typeof historyMessageSchema>;
export type AttachmentFrame = z.infer<typeof attachmentSchema>;
/** A user's profile as `GET /v1/users/:id` and `user` frames give it. */
export type ProfileView = Known<z.infer<typeof profileSchema>>;
export type RsvpCounts = Known<z.infer<typeof rsvpCountsSchema>>;

/**
 * A loose schema's type without its index signature: the fields the protocol names, for code
 * that writes them (the server) or picks and omits them (`keyof` of a loose type is `string`).
 */
export type Known<T> = T extends unknown ? { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] } : never;

/** A group as `ready`, `group_added` and `GET /v1/me` list it for its member. */
export type GroupSummary = Known<GroupSummaryFrame>;
/** A group as an invitation shows it. */
export type InvitedGroup = Known<z.infer<typeof invitedGroupSchema>>;
/** A message as `history` and `GET /v1/groups/:id/messages` give it, as it now stands. */
export type HistoryMessage = Known<HistoryMessageFrame>;
/** A report as admins get it, in `report` frames and report lists. */
export type ReportView = Known<z.infer<typeof reportSchema>>;

/** Parses one text frame; undefined for JSON or shapes this client does not know (a newer server's). */
export function parseServerFrame(text: string): ServerFrame | undefined {
  const parsed = serverFrameSchema.safeParse(tryParseJson(text));
  return parsed.success ? parsed.data : undefined;
}
