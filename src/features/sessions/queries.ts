import { and, asc, desc, eq, gt, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/connect.js';
import { membershipColumns, summaryColumns } from '../groups/index.js';
import { accounts, communities, events, groups, members, mutes, reactions, sessions, users } from '../../platform/db/schema.js';

// The statements of session starts and of the reads every app open makes (`/v1/me`, the newest
// history page), built once per database and prepared by the driver: no query building per call,
// and PostgreSQL parses and plans each once per connection. Only on the root handle (a prepared
// statement is tied to the handle it was built on), never inside a transaction.

function perDb<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let statement = built.get(db);
    if (!statement) {
      statement = build(db);
      built.set(db, statement);
    }
    return statement;
  };
}

const userGroupsStatement = perDb((db) =>
  db
    .select({ userId: members.userId, ...summaryColumns })
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .where(sql`${members.userId} = any(${sql.placeholder('userIds')}::text[])`)
    .orderBy(asc(members.userId), asc(groups.id))
    .prepare('user_groups'),
);

/** Every group of each of these users, as `ready` and `/v1/me` list them (one statement for a batch of session starts). */
export const listGroupsOfUsers = (db: Db, userIds: string[]) => userGroupsStatement(db).execute({ userIds });

const groupEndsStatement = perDb((db) =>
  db
    .select({ id: groups.id, lastSeq: groups.lastSeq })
    .from(groups)
    .where(sql`${groups.id} = any(${sql.placeholder('ids')}::text[])`)
    .prepare('group_ends'),
);

/** Where each of these groups' logs ends (feeds that start together, and the feeds' periodic check); missing groups are left out. */
export const groupEndsOf = (db: Db, ids: string[]) => groupEndsStatement(db).execute({ ids });

const userStatement = perDb((db) =>
  db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .limit(1)
    .prepare('user_row'),
);

export const findUserRow = async (db: Db, id: string) => (await userStatement(db).execute({ id }))[0];

const sessionStartsStatement = perDb((db) =>
  db
    .select({ userId: users.id, name: users.name, claimedName: users.claimedName, account: accounts.username, group: summaryColumns })
    .from(users)
    .leftJoin(accounts, eq(accounts.userId, users.id))
    .leftJoin(members, eq(members.userId, users.id))
    .leftJoin(groups, eq(groups.id, members.groupId))
    .where(sql`${users.id} = any(${sql.placeholder('ids')}::text[])`)
    .orderBy(asc(users.id), asc(groups.id))
    .prepare('session_starts'),
);

/**
 * What session starts read, for a batch of users in one statement: each known user's name, last
 * name claim taken and local account, once per group of theirs with the group as `ready` lists
 * it (listGroupsOfUsers's columns), or once without a group. Unknown users have no row.
 */
export const sessionStartsOf = (db: Db, ids: string[]) => sessionStartsStatement(db).execute({ ids });

const userCommunitiesStatement = perDb((db) =>
  db
    .select({ id: communities.id, name: communities.name, role: members.role })
    .from(members)
    .innerJoin(communities, eq(communities.announcementGroupId, members.groupId))
    .where(eq(members.userId, sql.placeholder('userId')))
    .orderBy(asc(communities.id))
    .prepare('user_communities'),
);

export const listCommunitiesOfUser = (db: Db, userId: string) => userCommunitiesStatement(db).execute({ userId });

const membershipStatement = perDb((db) =>
  db
    .select(membershipColumns)
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .leftJoin(mutes, and(eq(mutes.groupId, members.groupId), eq(mutes.userId, members.userId)))
    .where(and(eq(members.groupId, sql.placeholder('groupId')), eq(members.userId, sql.placeholder('userId'))))
    .limit(1)
    .prepare('membership'),
);

/** findMembership's row (groups.ts), prepared. */
export const findMembershipRow = async (db: Db, groupId: string, userId: string) =>
  (await membershipStatement(db).execute({ groupId, userId }))[0];

// `kind = 'message'` is written into the statement, not a parameter: a generic plan of a prepared
// statement can use the partial index events_messages only when the predicate is a constant.
const isMessage = sql`${events.kind} = 'message'`;

const newestMessagesStatement = perDb((db) =>
  db
    .select()
    .from(events)
    .where(and(eq(events.groupId, sql.placeholder('groupId')), isMessage))
    .orderBy(desc(events.seq))
    .limit(sql.placeholder('limit'))
    .prepare('newest_messages'),
);

const messagesBeforeStatement = perDb((db) =>
  db
    .select()
    .from(events)
    .where(and(eq(events.groupId, sql.placeholder('groupId')), isMessage, lt(events.seq, sql.placeholder('before'))))
    .orderBy(desc(events.seq))
    .limit(sql.placeholder('limit'))
    .prepare('messages_before'),
);

/** Up to `limit` messages newest first, before `before` (exclusive) when given. */
export const messageRows = (db: Db, groupId: string, before: number | undefined, limit: number) =>
  before === undefined
    ? newestMessagesStatement(db).execute({ groupId, limit })
    : messagesBeforeStatement(db).execute({ groupId, before, limit });

const reactionCountsStatement = perDb((db) =>
  db
    .select({ seq: reactions.messageSeq, emoji: reactions.emoji, count: sql<number>`count(*)::int` })
    .from(reactions)
    .where(and(eq(reactions.groupId, sql.placeholder('groupId')), sql`${reactions.messageSeq} = any(${sql.placeholder('seqs')}::bigint[])`))
    .groupBy(reactions.messageSeq, reactions.emoji)
    .prepare('reaction_counts'),
);

/** Reaction counts of these messages of one group, per seq and emoji. */
export const reactionCounts = (db: Db, groupId: string, seqs: number[]) => reactionCountsStatement(db).execute({ groupId, seqs });

const revokedStatement = perDb((db) =>
  db
    .select({ revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(and(eq(sessions.id, sql.placeholder('id')), eq(sessions.userId, sql.placeholder('userId'))))
    .limit(1)
    .prepare('session_revoked'),
);

/**
 * True when the user's session exists and was revoked; unknown sessions (external tokens) are
 * not. Looked up with the user: an external identity service's `sid`s may be guessable, and one
 * user's revoked `sid` must not end another's session.
 */
export const sessionRevoked = async (db: Db, session: { id: string; userId: string }) =>
  (await revokedStatement(db).execute(session))[0]?.revokedAt != null;

/** Sessions revoked and not yet expired, of everyone or of the given users: what tokens may still name. */
export function revokedSessions(db: Db, userIds?: string[]) {
  return db
    .select({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt })
    .from(sessions)
    .where(
      and(
        isNotNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
        userIds === undefined ? undefined : inArray(sessions.userId, userIds),
      ),
    );
}
