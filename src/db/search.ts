import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from './connect.js';
import { communities, events, groups, members } from './schema.js';

export interface SearchCursor {
  /** The last result's time as PostgreSQL wrote it (microseconds kept), its group and seq. */
  ts: string;
  groupId: string;
  seq: number;
}

export interface SearchHit {
  groupId: string;
  seq: number;
  ts: Date;
  tsText: string;
  senderId: string;
  text: string;
}

/** Characters LIKE treats specially, escaped so the query matches as typed. */
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Letters outside ASCII: words of scripts that stemming does not cover (Devanagari, Tamil…). */
const NON_ASCII_LETTER = /[^\p{ASCII}]/u;

/**
 * Messages of the user's groups (optionally one group, or one community's) whose current text
 * matches `q`, newest first, after `cursor`; `limit + 1` rows at most, so the caller knows if
 * there are more. Matching: the words of `q` as English stems or as plain words (any script), via
 * the GIN index on events.search; and for text with letters outside ASCII, `q` as a substring
 * (pg_trgm's GIN index), so suffixed forms match too (स्वयंसेवकों contains स्वयंसेवक).
 * Deleted messages have no text, so they never match; an edit replaced the text that did.
 */
export async function searchMessages(
  db: Queryable,
  userId: string,
  options: { q: string; groupId?: string | undefined; communityId?: string | undefined; cursor?: SearchCursor | undefined; limit: number },
): Promise<SearchHit[]> {
  const { q, groupId, communityId, cursor, limit } = options;
  const english = sql`websearch_to_tsquery('english'::regconfig, ${q})`;
  const simple = sql`websearch_to_tsquery('simple'::regconfig, ${q})`;
  // ASCII words: their English stems (one posting list a word, half the work for a common word),
  // or the plain words when English drops them all as stop words; other scripts: both.
  const query = NON_ASCII_LETTER.test(q)
    ? sql`(${english} || ${simple})`
    : sql`(case when numnode(${english}) = 0 then ${simple} else ${english} end)`;
  const substring = NON_ASCII_LETTER.test(q) && [...q].length >= 3 ? sql` or ${events.text} ilike ${`%${likeEscape(q)}%`}` : sql``;
  const after = cursor
    ? sql`and (${events.ts}, ${events.groupId}, ${events.seq}) < (${cursor.ts}::timestamptz, ${cursor.groupId}, ${cursor.seq})`
    : sql``;
  // The groups first, as a list: with a subquery PostgreSQL may loop over the groups and scan the
  // GIN index once per group (seconds for a common word); with the list it scans it once.
  const scope = await db
    .select({ id: members.groupId })
    .from(members)
    .innerJoin(groups, eq(groups.id, members.groupId))
    .where(
      and(
        eq(members.userId, userId),
        groupId ? eq(members.groupId, groupId) : undefined,
        communityId ? eq(groups.communityId, communityId) : undefined,
      ),
    );
  if (scope.length === 0) return [];
  // One text[] parameter (not one per group): the statement's text, and so postgres.js's prepared statement, stays the same.
  const inScope = sql`${events.groupId} = any(${textArray(scope.map((g) => g.id))}::text[])`;
  // Planned for these values every time: a plan cached for "some query" cannot tell a word in
  // half the messages (walk the caller's groups) from a rare one (the GIN index), and a wrong
  // guess costs seconds.
  const result: unknown = await db.transaction(async (tx) => {
    await tx.execute(sql`set local plan_cache_mode = force_custom_plan`);
    return tx.execute(sql`
    select ${events.groupId} as group_id, ${events.seq} as seq, ${events.ts} as ts, ${events.ts}::text as ts_text,
      ${events.senderId} as sender_id, ${events.text} as text
    from ${events}
    where ${events.kind} = 'message' and ${events.text} is not null
      -- Expired and not swept yet: its content is withheld already.
      and (${events.expiresAt} is null or ${events.expiresAt} > now())
      and ${inScope}
      and (search @@ ${query}${substring})
      ${after}
    order by ${events.ts} desc, ${events.groupId} desc, ${events.seq} desc
    limit ${limit + 1}`);
  });
  type Row = { group_id: string; seq: string | number; ts: Date | string; ts_text: string; sender_id: string; text: string };
  const rows = (Array.isArray(result) ? result : (result as { rows: Row[] }).rows) as Row[];
  return rows.map((r) => ({
    groupId: r.group_id,
    seq: Number(r.seq),
    ts: new Date(r.ts),
    tsText: r.ts_text,
    senderId: r.sender_id,
    text: r.text,
  }));
}

/** A PostgreSQL array literal of strings, every element quoted. */
const textArray = (values: string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;

/** Whether the user is in the community (a member of its announcement group). */
export async function isCommunityMember(db: Queryable, communityId: string, userId: string): Promise<boolean> {
  const rows = await db
    .select({ one: sql<number>`1` })
    .from(communities)
    .innerJoin(members, sql`${members.groupId} = ${communities.announcementGroupId} and ${members.userId} = ${userId}`)
    .where(sql`${communities.id} = ${communityId}`)
    .limit(1);
  return rows.length > 0;
}
