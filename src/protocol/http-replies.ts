import { z } from 'zod';
import {
  attachmentSchema,
  groupSummarySchema,
  historyMessageSchema,
  rsvpCountsSchema,
  invitedGroupSchema,
  profileSchema,
  reportSchema,
  type Known,
} from './server-frames.js';

// Answers of the HTTP API (docs/protocol.md §2 and docs/protocol.md §8) as zod schemas, for clients. Loose, like the
// frames: a newer server may add fields.

export const userSchema = z.object({ id: z.string(), name: z.string() }).loose();

const audience = z.enum(['everyone', 'shared', 'nobody']);

/** The caller as `GET /v1/me` and `PATCH /v1/me` give it: with the avatar and privacy settings. */
export const meSchema = userSchema
  .extend({
    avatar: z.string().nullable(),
    privacy: z.object({ groupAdd: audience, lastSeen: audience }).loose(),
    /** `GET /v1/me` only: the member's own verified phone number in E.164, or null (docs/protocol.md §2). */
    phone: z.string().nullable().optional(),
  })
  .loose();

/** What joining by an invite did: `{status: 'joined', community, groupId?}` or `{status: 'pending'}`. */
export const inviteJoinSchema = z
  .object({ status: z.enum(['joined', 'pending']), community: z.lazy(() => communitySchema).optional(), groupId: z.string().optional() })
  .loose();

export const signedInSchema = z
  .object({
    user: userSchema,
    token: z.string(),
    expiresAt: z.string(),
    device: z.string().optional(),
    /** With `refresh: true`, and from `POST /v1/sessions/refresh` (docs/protocol.md §2 "Sessions and refresh tokens"). */
    refreshToken: z.string().optional(),
    refreshExpiresAt: z.string().optional(),
    /** A sign-up with `invite` (docs/protocol.md §2): what joining by it did. */
    invite: inviteJoinSchema.optional(),
    /** A password sign-up's recovery codes, shown this once (docs/protocol.md §2 "Recovery codes"). */
    recoveryCodes: z.array(z.string()).optional(),
  })
  .loose();

/** A passkey as its owner sees it (docs/protocol.md §2 "Passkeys"). */
export const passkeySchema = z
  .object({ id: z.string(), name: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable() })
  .loose();

export const groupSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['group', 'announcement', 'direct']),
    name: z.string(),
    description: z.string(),
    communityId: z.string().nullable(),
    settings: z.record(z.string(), z.unknown()),
    memberCount: z.number(),
    lastSeq: z.number(),
    /** v1.1 (docs/protocol.md §8): seqs of the pinned messages (at most 5), most recently pinned first. */
    pins: z.array(z.number().int()),
  })
  .loose();

const role = z.enum(['owner', 'admin', 'member']);

export const communitySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    announcementGroupId: z.string(),
    settings: z.record(z.string(), z.unknown()),
    memberCount: z.number(),
  })
  .loose();

const groupDetails = groupSchema.pick({ description: true, settings: true, memberCount: true }).shape;

/**
 * A group in a community's list (docs/communities.md): the caller's summary of a group they are
 * in, or, with `role: null`, one they may join.
 */
export const communityGroupSchema = z.union([
  groupSummarySchema.extend(groupDetails).loose(),
  groupSummarySchema
    .omit({ role: true, lastSeq: true, readSeq: true })
    .extend({ ...groupDetails, role: z.null(), join: z.enum(['open', 'approval']) })
    .loose(),
]);

const webhookSchema = z.object({ id: z.string(), url: z.string(), events: z.array(z.string()), createdAt: z.string() }).loose();

const communityGroupPage = { groups: z.array(communityGroupSchema), nextCursor: z.string().nullable() };

/** A member's export of their own data (docs/protocol.md §2 "Your data: export and erasure"). */
export const dataExportSchema = z
  .object({
    id: z.string(),
    status: z.enum(['pending', 'ready', 'downloaded', 'expired']),
    createdAt: z.string(),
    /** When the archive is (or was) deleted; null while pending. */
    expiresAt: z.string().nullable(),
    /** Bytes of the archive; null while pending. */
    size: z.number().nullable(),
  })
  .loose();

export const httpReplies = {
  signedIn: signedInSchema,
  /** WebAuthn options for `navigator.credentials.create()` or `.get()` (as JSON), and the challenge to answer. */
  passkeyOptions: z.object({ challengeId: z.string(), options: z.record(z.string(), z.unknown()) }).loose(),
  passkey: z.object({ passkey: passkeySchema }).loose(),
  passkeys: z.object({ passkeys: z.array(passkeySchema) }).loose(),
  dataExport: z.object({ export: dataExportSchema }).loose(),
  erasure: z.object({ erasure: z.object({ status: z.literal('pending') }).loose() }).loose(),
  /** `POST /v1/phone/codes`: always this, whether or not the number has an account. */
  codeSent: z.object({ sent: z.literal(true) }).loose(),
  /** The member's own verified phone number (E.164). */
  myPhone: z.object({ phone: z.string() }).loose(),
  /** The caller's live sessions (docs/protocol.md §2 "Sessions and refresh tokens"); `place` is always null for now. */
  sessions: z
    .object({
      sessions: z.array(
        z
          .object({
            id: z.string(),
            deviceName: z.string().nullable(),
            method: z.string(),
            createdAt: z.string(),
            lastSeenAt: z.string(),
            place: z.string().nullable(),
            current: z.boolean(),
          })
          .loose(),
      ),
    })
    .loose(),
  /** An operator's account without a password (docs/protocol.md §2 "Sign-in links"). */
  accountCreated: z.object({ user: userSchema, username: z.string() }).loose(),
  recoveryCodes: z.object({ recoveryCodes: z.array(z.string()) }).loose(),
  recoveryCodesLeft: z.object({ remaining: z.number() }).loose(),
  signInLink: z.object({ code: z.string(), url: z.string(), expiresAt: z.string() }).loose(),
  me: z
    .object({
      user: meSchema,
      groups: z.array(groupSummarySchema),
      communities: z.array(z.object({ id: z.string(), name: z.string(), role }).loose()),
    })
    .loose(),
  group: z.object({ group: groupSchema }).loose(),
  /** `role: null` for a community admin who governs the group without being in it. */
  groupDetail: z.object({ group: groupSchema, role: role.nullable() }).loose(),
  members: z
    .object({
      members: z.array(z.object({ userId: z.string(), role, joinedAt: z.string(), name: z.string().optional() }).loose()),
      nextCursor: z.string().nullable().optional(),
    })
    .loose(),
  messages: z.object({ messages: z.array(historyMessageSchema), hasMore: z.boolean() }).loose(),
  posted: z.object({ group: z.string(), seq: z.number(), ts: z.string() }).loose(),
  community: z.object({ community: communitySchema }).loose(),
  communityDetail: z.object({ community: communitySchema, role, ...communityGroupPage }).loose(),
  communityGroups: z.object(communityGroupPage).loose(),
  /** `GET /v1/communities/:id/overview` (community admins): every ordinary group, private ones too. */
  communityOverview: z
    .object({
      groups: z.array(
        z
          .object({
            id: z.string(),
            name: z.string(),
            description: z.string(),
            settings: z.record(z.string(), z.unknown()),
            memberCount: z.number(),
            lastSeq: z.number(),
            /** When its last event (message, membership or settings change) was stored; null for none. */
            lastActivityAt: z.string().nullable(),
            /** The caller's role in it; null when they govern it without being in it. */
            role: role.nullable(),
          })
          .loose(),
      ),
      nextCursor: z.string().nullable(),
    })
    .loose(),
  invite: z
    .object({
      code: z.string(),
      expiresAt: z.string().nullable().optional(),
      maxUses: z.number().nullable().optional(),
      groupId: z.string().nullable().optional(),
    })
    .loose(),
  /** `GET /v1/invites/:code`: what the invite leads to, before joining. */
  invitePreview: z
    .object({
      community: z.object({ name: z.string(), description: z.string(), memberCount: z.number() }).loose(),
      approvalRequired: z.boolean(),
    })
    .loose(),
  /**
   * `200 {community}` (with `groupId` when the link named a group, now joined too), or `202
   * {status: 'pending'}` when the community approves joins.
   */
  joined: z.object({ community: communitySchema.optional(), groupId: z.string().optional(), status: z.string().optional() }).loose(),
  receipts: z.object({ readBy: z.number(), memberCount: z.number() }).loose(),
  /** `GET /v1/communities/:id/requests`: `groupId` is the announcement group for a request to join the community. */
  requests: z
    .object({
      requests: z.array(z.object({ userId: z.string(), name: z.string(), groupId: z.string(), createdAt: z.string() }).loose()),
      nextCursor: z.string().nullable(),
    })
    .loose(),
  /** `PATCH /v1/me`. */
  profile: z.object({ user: meSchema }).loose(),
  /** `GET /v1/users/:id` (docs/protocol.md §8). */
  user: z.object({ user: profileSchema }).loose(),
  /** `GET /v1/groups/:id/presence`: members whose presence the caller may see (`lastSeen` in ISO-8601, null while online or unknown). */
  presence: z
    .object({ presence: z.array(z.object({ user: z.string(), online: z.boolean(), lastSeen: z.string().nullable() }).loose()) })
    .loose(),
  /** `POST /v1/groups`: `invited` lists every requested member who was not added directly. */
  groupCreated: z.object({ group: groupSchema, invited: z.array(z.string()) }).loose(),
  /** `POST /v1/groups/:id/members`: `{}` (201) when added, `{status: "invited"}` (202) for anyone else. */
  memberAdded: z.object({ status: z.literal('invited').optional() }).loose(),
  invitations: z
    .object({
      invitations: z.array(
        z.object({ group: invitedGroupSchema, by: z.object({ id: z.string(), name: z.string() }).loose(), createdAt: z.string() }).loose(),
      ),
    })
    .loose(),
  /** `POST /v1/groups/:id/invitation`: `200 {group}` joined, or `202 {status: "pending"}`: a join request for the community's admins. */
  invitationAccepted: z.object({ group: groupSchema.optional(), status: z.literal('pending').optional() }).loose(),
  blocks: z.object({ blocks: z.array(z.object({ userId: z.string(), createdAt: z.string() }).loose()) }).loose(),
  /** `202 {status: "invited"}`: the user was not added directly (an invitation or a join request, or nothing: the answer does not say). */
  invited: z.object({ status: z.literal('invited') }).loose(),
  bans: z
    .object({
      bans: z.array(
        z
          .object({
            userId: z.string(),
            name: z.string().nullable(),
            reason: z.string().nullable(),
            bannedBy: z.string(),
            createdAt: z.string(),
          })
          .loose(),
      ),
      nextCursor: z.string().nullable(),
    })
    .loose(),
  reported: z.object({ status: z.literal('received') }).loose(),
  reports: z.object({ reports: z.array(reportSchema), nextCursor: z.string().nullable() }).loose(),
  report: z.object({ report: reportSchema }).loose(),
  /** `POST /v1/attachments` (docs/protocol.md §8 "Files (attachments)"). */
  attachment: z.object({ attachment: attachmentSchema }).loose(),
  /** `GET /v1/search` (docs/protocol.md §8 "Search"). */
  search: z
    .object({
      results: z.array(
        z.object({ group: z.string(), seq: z.number(), ts: z.string(), sender: z.string(), text: z.string(), snippet: z.string() }).loose(),
      ),
      nextCursor: z.string().nullable(),
      /** The page stopped at the search's bound (SEARCH_SCAN_ROWS): `nextCursor` goes on from there. */
      partial: z.literal(true).optional(),
    })
    .loose(),
  // docs/protocol.md §8 "Polls and events"
  /** `POST …/vote`, `POST …/rsvp`, `POST …/close`: `seq` and `ts` when an event was appended. */
  answered: z.object({ group: z.string(), seq: z.number().optional(), ts: z.string().optional() }).loose(),
  /** `GET …/messages/:seq/votes`: `voters` (user ids per option, one page of voters) outside announcement groups only. */
  votes: z
    .object({
      group: z.string(),
      seq: z.number(),
      closed: z.boolean(),
      counts: z.array(z.number()),
      mine: z.array(z.number()),
      voters: z.array(z.array(z.string())).optional(),
      /** With `voters`: the cursor of the next page of voters, null on the last. */
      nextCursor: z.string().nullable().optional(),
    })
    .loose(),
  /** `GET …/messages/:seq/rsvps`: `users` (ids per answer, one page of users) outside announcement groups only. */
  rsvps: z
    .object({
      group: z.string(),
      seq: z.number(),
      counts: rsvpCountsSchema,
      mine: z.enum(['going', 'maybe', 'no']).nullable(),
      users: z
        .object({ going: z.array(z.string()), maybe: z.array(z.string()), no: z.array(z.string()) })
        .loose()
        .optional(),
      /** With `users`: the cursor of the next page of users, null on the last. */
      nextCursor: z.string().nullable().optional(),
    })
    .loose(),
  // docs/protocol.md §8 "Notifications"
  vapidKey: z.object({ publicKey: z.string() }).loose(),
  created: z.object({ id: z.string() }).loose(),
  stats: z
    .object({ group: z.string(), seq: z.number(), members: z.number(), delivered: z.number(), notified: z.number(), read: z.number() })
    .loose(),
  webhookCreated: z.object({ id: z.string(), secret: z.string(), url: z.string(), events: z.array(z.string()) }).loose(),
  webhook: z.object({ webhook: webhookSchema }).loose(),
  webhooks: z.object({ webhooks: z.array(webhookSchema) }).loose(),
  deliveries: z
    .object({
      deliveries: z.array(
        z
          .object({
            id: z.string(),
            event: z.string(),
            status: z.enum(['pending', 'delivered', 'failed']),
            attempts: z.number(),
            lastStatus: z.number().nullable(),
            lastError: z.string().nullable(),
            createdAt: z.string(),
            deliveredAt: z.string().nullable(),
            nextAttemptAt: z.string().nullable(),
          })
          .loose(),
      ),
    })
    .loose(),
};

export type HttpReplies = { [K in keyof typeof httpReplies]: z.infer<(typeof httpReplies)[K]> };
/** What the server writes for each reply: the fields the protocol names (replies are loose for clients). */
export type HttpReply<K extends keyof HttpReplies> = Known<HttpReplies[K]>;
export type Community = Known<z.infer<typeof communitySchema>>;
export type Group = Known<z.infer<typeof groupSchema>>;
export type CommunityGroup = Known<z.infer<typeof communityGroupSchema>>;
