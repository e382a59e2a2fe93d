import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

// Columns are snake_case in SQL (drizzle.config.ts sets casing), camelCase in TypeScript.

const createdAt = () => timestamp({ withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const users = pgTable('users', {
  id: text().primaryKey(),
  name: text().notNull(),
  createdAt: createdAt(),
});

/** Local accounts (username + password) for standalone use; external identity services skip this. */
export const accounts = pgTable('accounts', {
  username: text().primaryKey(),
  userId: text()
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: 'cascade' }),
  passwordHash: text().notNull(),
  createdAt: createdAt(),
});

/** A signed-in session; its id is the JWT `sid`, and revoking it closes its sockets (4403). */
export const sessions = pgTable(
  'sessions',
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [index().on(t.userId)],
);

export const communities = pgTable('communities', {
  id: text().primaryKey(),
  name: text().notNull(),
  description: text().notNull().default(''),
  /** The one announcement group; its members are the community's members (DESIGN.md). */
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
    /** Notification preference (PROTOCOL.md §7); null means the default for the group's kind and size. */
    notifyLevel: text({ enum: ['all', 'mentions', 'none'] }),
    muteUntil: timestamp({ withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index().on(t.userId, t.groupId)],
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
    kind: text({ enum: ['message', 'edit', 'delete', 'reaction', 'member', 'group'] }).notNull(),
    clientMsgId: text(),
    text: text(),
    target: bigint({ mode: 'number' }),
    replyTo: bigint({ mode: 'number' }),
    /** Kind-specific fields that are never queried: mentions, emoji, member, action, changes. */
    data: jsonb().$type<Record<string, unknown>>(),
    editedAt: timestamp({ withTimezone: true, mode: 'date' }),
    deleted: boolean().notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.seq] }),
    uniqueIndex('events_idempotency').on(t.groupId, t.senderId, t.clientMsgId),
    index('events_messages').on(t.groupId, t.seq).where(sql`kind = 'message'`),
    index('events_target').on(t.groupId, t.target).where(sql`target is not null`),
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
  (t) => [primaryKey({ columns: [t.groupId, t.messageSeq, t.userId] }), index().on(t.groupId, t.messageSeq, t.emoji)],
);

export const invites = pgTable(
  'invites',
  {
    code: text().primaryKey(),
    communityId: text()
      .notNull()
      .references(() => communities.id, { onDelete: 'cascade' }),
    createdBy: text().notNull(),
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
    /** The newest message's push payload (PROTOCOL.md §7), before the count is applied. */
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

/** Reach of an announcement (PROTOCOL.md §7), counted as things happen: never a per-member scan. */
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

export type PushSubscriptionRow = typeof pushSubscriptions.$inferSelect;
export type PushQueueRow = typeof pushQueue.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type CommunityRow = typeof communities.$inferSelect;
export type Role = MemberRow['role'];
