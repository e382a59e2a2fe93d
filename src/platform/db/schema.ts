import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

// Columns are snake_case in SQL (drizzle.config.ts sets casing), camelCase in TypeScript.

const createdAt = () => timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: text().primaryKey(),
    name: text().notNull(),
    /** The avatar: an image attachment the user uploaded (kept from the sweeper while it is one). */
    avatar: text(),
    /** Who may add this user to a group directly; null follows the server's DEFAULT_GROUP_ADD. */
    groupAdd: text({ enum: ['everyone', 'shared', 'nobody'] }),
    /** Who sees this user's presence (null: `shared`). */
    lastSeen: text({ enum: ['everyone', 'shared', 'nobody'] }),
    /** The `name` claim last taken from an external identity service (null for local accounts). */
    claimedName: text(),
    createdAt: createdAt(),
    /** The member erased their account (docs/protocol.md §2 "Your data: export and erasure"): a tombstone, no name. */
    erasedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('users_avatar_index').on(t.avatar).where(sql`${t.avatar} is not null`),
    // Admins search their community's members by name (`GET /v1/communities/:id/members?q=`).
    index('users_name_trgm').using('gin', t.name.op('gin_trgm_ops')),
  ],
);

/** Local accounts (username + password) for standalone use; external identity services skip this. */
export const accounts = pgTable('accounts', {
  username: text().primaryKey(),
  userId: text()
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: 'cascade' }),
  /** Null for an account that signs in only another way (a passkey, a phone number: docs/protocol.md §2). */
  passwordHash: text(),
  createdAt: createdAt(),
});

/**
 * A signed-in session; its id is the JWT `sid`, and revoking it closes its sockets (4403). Keyed by
 * user and `sid`: an external identity service's `sid`s are unique only per user (or guessable),
 * and one user's row must never stand in the way of another's revocation.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: text().notNull(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp({ withTimezone: true, mode: 'date' }),
    /** How it began (SignInMethod in features/accounts): a password, a passkey, a phone code… */
    method: text().notNull().default('password'),
    /** The device's own name for itself, as the client gave it (listed to the member only). */
    deviceName: text(),
    /**
     * Refresh tokens (docs/protocol.md §2 "Sessions and refresh tokens"): the SHA-256 of the
     * current one's secret (null: the session has none), its generation (one more per rotation),
     * when it was rotated last (the retry grace runs from there), and until when it may be used.
     */
    refreshHash: text(),
    refreshGeneration: integer().notNull().default(0),
    refreshedAt: timestamp({ withTimezone: true, mode: 'date' }),
    refreshExpiresAt: timestamp({ withTimezone: true, mode: 'date' }),
    /** When the session was last used to refresh or to open a socket (throttled), for the member's list. */
    lastSeenAt: timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  // A refresh token names its session by id alone.
  (t) => [primaryKey({ columns: [t.userId, t.id] }), index('sessions_id').on(t.id)],
);

/**
 * A passkey (WebAuthn credential, docs/protocol.md §2 "Passkeys"): its public key and signature
 * counter. `credentialId` (base64url) is unique across all accounts: one authenticator's credential
 * belongs to one account only.
 */
export const passkeys = pgTable(
  'passkeys',
  {
    id: text().primaryKey(),
    credentialId: text().notNull().unique(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The COSE public key, base64url. */
    publicKey: text().notNull(),
    counter: bigint({ mode: 'number' }).notNull().default(0),
    /** What the authenticator said it speaks (`internal`, `hybrid`, `usb`…), for the browser's hints. */
    transports: jsonb().$type<string[]>().notNull().default([]),
    name: text().notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [index().on(t.userId)],
);

/**
 * A WebAuthn challenge handed out and not yet answered: single use (taken by deleting it), 5 minutes,
 * for one purpose (`register`, `sign_in`, `sign_up`). In the database so any replica can take the answer.
 */
export const passkeyChallenges = pgTable(
  'passkey_challenges',
  {
    id: text().primaryKey(),
    challenge: text().notNull(),
    purpose: text({ enum: ['register', 'sign_in', 'sign_up'] }).notNull(),
    /** The signed-in user registering a passkey; null for sign-in and sign-up. */
    userId: text().references(() => users.id, { onDelete: 'cascade' }),
    /** A sign-up's username, name and WebAuthn user handle until the answer comes. */
    signUp: jsonb().$type<{ username: string; name: string; userId: string }>(),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index().on(t.expiresAt)],
);

/**
 * A member's verified phone number (docs/protocol.md §2 "Phone numbers and one-time codes"): one per
 * account, in E.164, and one account per number. Private: only its member is ever shown it.
 */
export const phones = pgTable('phones', {
  userId: text()
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  phone: text().notNull().unique(),
  verifiedAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * One-time codes sent to a phone number: only an HMAC of the code is kept; single use, dead after
 * `PHONE_CODE_MAX_ATTEMPTS` tries or at `expiresAt`. `userId` is the member adding the number
 * (purpose `verify`), null for a sign-in code.
 */
export const phoneCodes = pgTable(
  'phone_codes',
  {
    id: text().primaryKey(),
    phone: text().notNull(),
    purpose: text({ enum: ['sign-in', 'verify'] }).notNull(),
    userId: text().references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    attempts: integer().notNull().default(0),
    usedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('phone_codes_live').on(t.phone, t.purpose, t.createdAt).where(sql`${t.usedAt} is null`),
    index('phone_codes_expires').on(t.expiresAt),
  ],
);

/**
 * Recovery codes of a password account (docs/protocol.md §2 "Recovery codes"): ten at a time, each
 * stored as an HMAC under JWT_SECRET (60 random bits: no slow hash needed), deleted when used.
 */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/**
 * One-time sign-in links an operator issued (docs/protocol.md §2 "Sign-in links"), stored as an
 * HMAC of their code; deleted when redeemed, or replaced by a newer one for the same account.
 */
export const signInLinks = pgTable(
  'sign_in_links',
  {
    codeHash: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The operator's token subject (a server-scoped token), for the audit. */
    createdBy: text().notNull(),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.userId)],
);

export const communities = pgTable('communities', {
  id: text().primaryKey(),
  name: text().notNull(),
  description: text().notNull().default(''),
  /** The one announcement group; its members are the community's members (docs/architecture.md). */
  announcementGroupId: text().notNull().unique(),
  createdBy: text().notNull(),
  createdAt: createdAt(),
});

export const groups = pgTable(
  'groups',
  {
    id: text().primaryKey(),
    kind: text({ enum: ['group', 'announcement', 'direct'] }).notNull(),
    name: text().notNull(),
    description: text().notNull().default(''),
    communityId: text(),
    settings: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    /** The last seq handed out; bumped inside the insert transaction, so seqs are gapless. */
    lastSeq: bigint({ mode: 'number' }).notNull().default(0),
    memberCount: integer().notNull().default(0),
    /** The seqs of pinned messages, most recently pinned first (at most MAX_PINS). */
    pins: jsonb().$type<number[]>().notNull().default([]),
    /** For `direct` groups: the two user ids, sorted and joined, so each pair has one. */
    directKey: text().unique(),
    createdBy: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.communityId)],
);

export const members = pgTable(
  'members',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text({ enum: ['owner', 'admin', 'member'] }).notNull(),
    readSeq: bigint({ mode: 'number' }).notNull().default(0),
    joinedAt: createdAt(),
    /** Notification preference (docs/protocol.md §8 "Notifications"); null means the default for the group's kind and size. */
    notifyLevel: text({ enum: ['all', 'mentions', 'none'] }),
    muteUntil: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.userId] }),
    index().on(t.userId, t.groupId),
    // A group's admins without reading its members: a join of a private roster tells them (O(admins)).
    index('members_admins').on(t.groupId).where(sql`role <> 'member'`),
  ],
);

/**
 * The per-group log. A `message` row also holds the message as it now stands: `text` follows
 * edits and is erased (null) on delete, `editedAt` and `deleted` mark those changes.
 */
export const events = pgTable(
  'events',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    seq: bigint({ mode: 'number' }).notNull(),
    ts: createdAt(),
    senderId: text().notNull(),
    /**
     * `reactions`: a tally of an announcement group's message; `hidden`: a place kept in the log
     * for an event no member may see any more (announcement-group roster changes before 0002);
     * `vote`/`rsvp`: one member's answer to a poll or event (not in announcement groups), `tally`:
     * an announcement group's answer counts of one poll or event, `poll_closed`: voting ended.
     */
    kind: text({
      enum: ['message', 'edit', 'delete', 'reaction', 'member', 'group', 'reactions', 'hidden', 'vote', 'rsvp', 'tally', 'poll_closed'],
    }).notNull(),
    clientMsgId: text(),
    text: text(),
    target: bigint({ mode: 'number' }),
    replyTo: bigint({ mode: 'number' }),
    /** Kind-specific fields that are never queried: mentions, emoji, member, action, changes. */
    data: jsonb().$type<Record<string, unknown>>(),
    editedAt: timestamp({ withTimezone: true, mode: 'date' }),
    deleted: boolean().notNull().default(false),
    /** A message sent while the group's messageTtlS was on (or an edit of one): when it disappears. */
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }),
    /** Erased by the expiry sweeper: its seq stays, its content is gone. */
    expired: boolean().notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.seq] }),
    index('events_expiry').on(t.expiresAt).where(sql`${t.expiresAt} is not null and not ${t.expired}`),
    uniqueIndex('events_idempotency').on(t.groupId, t.senderId, t.clientMsgId),
    index('events_messages').on(t.groupId, t.seq).where(sql`kind = 'message'`),
    // Search's walk of a group, newest first (migration 0011).
    index('events_messages_by_time').on(t.groupId, t.ts, t.seq).where(sql`kind = 'message'`),
    index('events_target').on(t.groupId, t.target).where(sql`target is not null`),
    // A member's own messages, edits, reactions and answers, for their export and their erasure (features/my-data).
    index('events_by_sender').on(t.senderId, t.groupId, t.seq).where(sql`kind in ('message', 'edit', 'reaction', 'vote', 'rsvp')`),
  ],
);

/** One reaction per user per message: the current state behind the `reaction` events. */
export const reactions = pgTable(
  'reactions',
  {
    groupId: text().notNull(),
    messageSeq: bigint({ mode: 'number' }).notNull(),
    userId: text().notNull(),
    emoji: text().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.messageSeq, t.userId] }),
    index().on(t.groupId, t.messageSeq, t.emoji),
    // A member's own reactions, for their export and erasure.
    index('reactions_by_user').on(t.userId),
  ],
);

export const invites = pgTable(
  'invites',
  {
    code: text().primaryKey(),
    communityId: text()
      .notNull()
      .references(() => communities.id, { onDelete: 'cascade' }),
    createdBy: text().notNull(),
    /** A group of the community that joining by this code joins too (an invite link per group). */
    groupId: text().references(() => groups.id, { onDelete: 'cascade' }),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }),
    maxUses: integer(),
    uses: integer().notNull().default(0),
    revokedAt: timestamp({ withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.communityId)],
);

/** A pending request to join a group (a community's join request targets its announcement group). */
export const joinRequests = pgTable(
  'join_requests',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    inviteCode: text(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] })],
);

// Governance (docs/protocol.md §8 "Privacy and safety"): bans, mutes, reports.

/** A user refused by a community: removed from it and all its groups, and kept out. Any id may be banned (no users FK: a ban does not say whether the user exists). */
export const bans = pgTable(
  'bans',
  {
    communityId: text()
      .notNull()
      .references(() => communities.id, { onDelete: 'cascade' }),
    userId: text().notNull(),
    reason: text(),
    bannedBy: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.communityId, t.userId] })],
);

/** A member who may not send, react or type in a group until `until`. */
export const mutes = pgTable(
  'mutes',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text().notNull(),
    until: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    mutedBy: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] })],
);

/**
 * A member's report of a message, with a snapshot of the message as it was reported (kept when
 * the message is later deleted). One per reporter per message; `n` orders the queue.
 */
export const reports = pgTable(
  'reports',
  {
    n: bigserial({ mode: 'number' }).notNull().unique(),
    id: text().primaryKey(),
    communityId: text(),
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    seq: bigint({ mode: 'number' }).notNull(),
    /** The reported message's sender (also in the snapshot), so their own reports can be kept from them. */
    senderId: text().notNull(),
    reporterId: text().notNull(),
    reason: text().notNull(),
    note: text(),
    snapshot: jsonb().$type<Record<string, unknown>>().notNull(),
    status: text({ enum: ['open', 'resolved'] })
      .notNull()
      .default('open'),
    action: text({ enum: ['dismiss', 'delete', 'mute', 'remove', 'ban'] }),
    resolvedBy: text(),
    resolvedAt: timestamp({ withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('reports_one_per_reporter').on(t.groupId, t.seq, t.reporterId),
    index('reports_community_queue').on(t.communityId, t.status, t.n),
    index('reports_group_queue').on(t.groupId, t.status, t.n),
    index('reports_by_reporter').on(t.reporterId),
  ],
);

/** `blocker` blocked `blocked` (docs/protocol.md §8 "Privacy and safety" Blocks). */
export const blocks = pgTable(
  'blocks',
  {
    blockerId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    blockedId: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index().on(t.blockedId)],
);

/**
 * An invitation to a group, for a user who does not let the inviter add them directly. `declinedAt`
 * set: declined, and that group cannot invite them again (kept, so a group cannot nag).
 */
export const invitations = pgTable(
  'invitations',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    invitedBy: text().notNull(),
    createdAt: createdAt(),
    declinedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index().on(t.userId, t.invitedBy), index().on(t.invitedBy, t.createdAt)],
);

/**
 * Tallies of announcement groups still owed to the log: `pending` since a reaction (subject
 * `reactions`) or a vote or RSVP (subject `answers`) changed; flushed (one `reactions` or `tally`
 * event) no earlier than `dueAt`, at most once per interval and subject.
 */
export const reactionTallies = pgTable(
  'reaction_tallies',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    messageSeq: bigint({ mode: 'number' }).notNull(),
    subject: text({ enum: ['reactions', 'answers'] })
      .notNull()
      .default('reactions'),
    pending: boolean().notNull().default(true),
    dueAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    flushedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.messageSeq, t.subject] }), index('reaction_tallies_due').on(t.dueAt).where(sql`pending`)],
);

/** One member's vote on a poll (the option indexes chosen); no row once retracted. */
export const pollVotes = pgTable(
  'poll_votes',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    messageSeq: bigint({ mode: 'number' }).notNull(),
    userId: text().notNull(),
    options: integer().array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.messageSeq, t.userId] }), index('poll_votes_by_user').on(t.userId)],
);

/** One member's answer to an event. */
export const eventRsvps = pgTable(
  'event_rsvps',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    messageSeq: bigint({ mode: 'number' }).notNull(),
    userId: text().notNull(),
    answer: text({ enum: ['going', 'maybe', 'no'] }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.messageSeq, t.userId] }), index('event_rsvps_by_user').on(t.userId)],
);

/** An event's reminder still owed (EVENT_REMINDER_S before it starts): claimed by one replica (lease), then deleted. */
export const eventReminders = pgTable(
  'event_reminders',
  {
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    messageSeq: bigint({ mode: 'number' }).notNull(),
    dueAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
    leaseToken: text(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.messageSeq] }), index('event_reminders_due').on(t.dueAt)],
);

/**
 * An uploaded file (docs/protocol.md §8 "Files (attachments)"). Its bytes live in the BlobStore under `a/<id>` (and
 * `a/<id>.thumb` for an image's thumbnail). `sweepAfter` is when the sweeper may delete it: 24 h
 * after upload while unattached, null once a message refers to it, and "now" when the last
 * message that referred to it is deleted. `deleting`: claimed by a sweeper, no longer served.
 */
export const attachments = pgTable(
  'attachments',
  {
    id: text().primaryKey(),
    uploaderId: text().notNull(),
    name: text().notNull(),
    contentType: text().notNull(),
    size: bigint({ mode: 'number' }).notNull(),
    sha256: text().notNull(),
    width: integer(),
    height: integer(),
    blurhash: text(),
    /** Bytes of the WebP thumbnail (images only). */
    thumbnailSize: integer(),
    createdAt: createdAt(),
    sweepAfter: timestamp({ withTimezone: true, mode: 'date' }),
    deleting: boolean().notNull().default(false),
  },
  (t) => [index().on(t.uploaderId), index('attachments_sweep').on(t.sweepAfter).where(sql`${t.sweepAfter} is not null`)],
);

/** Which messages refer to an attachment: who may fetch it (members of these groups), and when it may go. */
export const attachmentRefs = pgTable(
  'attachment_refs',
  {
    attachmentId: text()
      .notNull()
      .references(() => attachments.id, { onDelete: 'cascade' }),
    groupId: text()
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    seq: bigint({ mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.attachmentId, t.groupId, t.seq] }), index().on(t.groupId, t.seq)],
);

// events.search (tsvector, generated from text) and the events_search / events_text_trgm indexes
// are written in migrations/0005_attachments_search.sql only: the search query (db/search.ts) is
// the one reader, and leaving the column out here keeps every other read of events from fetching it.

/** A Web Push subscription of one device (RFC 8030); an endpoint belongs to one user at a time. */
export const pushSubscriptions = pgTable(
  'push_subscriptions',
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    endpoint: text().notNull().unique(),
    p256dh: text().notNull(),
    auth: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.userId)],
);

/**
 * Notifications owed, one row per message, written by the statement that stores the message:
 * a worker on any replica claims rows (lease), fans each out into push_queue and deletes it.
 */
export const notifyOutbox = pgTable(
  'notify_outbox',
  {
    groupId: text().notNull(),
    seq: bigint({ mode: 'number' }).notNull(),
    createdAt: createdAt(),
    leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
    leaseToken: text(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.seq] }), index('notify_outbox_created').on(t.createdAt)],
);

/**
 * One push owed per user per group: later messages in the coalescing window add to `count`
 * ("3 new messages"). A row stays after its push (count 0) to remember `sentAt` for the window.
 */
export const pushQueue = pgTable(
  'push_queue',
  {
    userId: text().notNull(),
    groupId: text().notNull(),
    count: integer().notNull(),
    lastSeq: bigint({ mode: 'number' }).notNull(),
    urgent: boolean().notNull(),
    /** The newest message's push payload (docs/protocol.md §8 "Notifications"), before the count is applied. */
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    dueAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
    leaseToken: text(),
    attempts: integer().notNull().default(0),
    /** Subscription ids still owed this push after a partial failure; null means all of the user's. */
    retrySubscriptions: jsonb().$type<string[]>(),
    sentAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index('push_queue_due').on(t.dueAt).where(sql`count > 0`)],
);

/** Reach of an announcement (docs/protocol.md §8 "Notifications"), counted as things happen: never a per-member scan. */
export const messageStats = pgTable(
  'message_stats',
  {
    groupId: text().notNull(),
    seq: bigint({ mode: 'number' }).notNull(),
    members: integer().notNull().default(0),
    delivered: integer().notNull().default(0),
    notified: integer().notNull().default(0),
    read: integer().notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.seq] })],
);

/** Server key material shared by every replica (the VAPID key pair when not configured). */
export const serverKeys = pgTable('server_keys', {
  name: text().primaryKey(),
  value: jsonb().$type<Record<string, string>>().notNull(),
  createdAt: createdAt(),
});

/** A community's signed webhook (Standard Webhooks), for the event types it subscribed to. */
export const webhooks = pgTable(
  'webhooks',
  {
    id: text().primaryKey(),
    communityId: text()
      .notNull()
      .references(() => communities.id, { onDelete: 'cascade' }),
    url: text().notNull(),
    events: jsonb().$type<string[]>().notNull(),
    /** `whsec_` + base64 of the signing key. */
    secret: text().notNull(),
    createdBy: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.communityId)],
);

/** One event owed to one webhook, and its delivery log: retried with backoff for up to 24 h. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text().primaryKey(),
    webhookId: text()
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    event: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: text({ enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer().notNull().default(0),
    nextAt: timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
    leaseToken: text(),
    lastStatus: integer(),
    lastError: text(),
    createdAt: createdAt(),
    deliveredAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [index('webhook_deliveries_due').on(t.nextAt).where(sql`status = 'pending'`), index().on(t.webhookId, t.createdAt)],
);

/**
 * A member's export of their own data (docs/protocol.md §2 "Your data: export and erasure"):
 * produced by a job (row lease), its archive in the blob store under `x/<id>.zip`, downloadable
 * once, deleted at `expiresAt`.
 */
export const dataExports = pgTable(
  'data_exports',
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    status: text({ enum: ['pending', 'ready', 'downloaded', 'expired'] })
      .notNull()
      .default('pending'),
    /** Bytes of the archive, once ready. */
    size: bigint({ mode: 'number' }),
    createdAt: createdAt(),
    readyAt: timestamp({ withTimezone: true, mode: 'date' }),
    downloadedAt: timestamp({ withTimezone: true, mode: 'date' }),
    /** Set when ready: the archive is deleted then (EXPORT_TTL_S). */
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }),
    leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
    leaseToken: text(),
  },
  (t) => [
    index().on(t.userId, t.createdAt),
    // At most one export in the making per member.
    uniqueIndex('data_exports_one_pending').on(t.userId).where(sql`status = 'pending'`),
    index('data_exports_due').on(t.expiresAt).where(sql`status in ('ready', 'downloaded')`),
  ],
);

/** An erasure owed (DELETE /v1/me): the credentials are gone at once, the rest is done by a job (row lease), then the row goes. */
export const erasures = pgTable('erasures', {
  userId: text().primaryKey(),
  createdAt: createdAt(),
  attempts: integer().notNull().default(0),
  leaseUntil: timestamp({ withTimezone: true, mode: 'date' }),
  leaseToken: text(),
});

export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type AttachmentRow = typeof attachments.$inferSelect;
export type CommunityRow = typeof communities.$inferSelect;
export type Role = MemberRow['role'];
export type ReportRow = typeof reports.$inferSelect;
export type PasskeyRow = typeof passkeys.$inferSelect;
