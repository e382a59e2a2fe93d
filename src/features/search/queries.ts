import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { events, groups, members } from '../../platform/db/schema.js';
import { rowsOf } from '../../platform/db/rows.js';

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

/** Letters that have a case (Latin, Greek, Cyrillic…): without any, a substring is matched exactly, far cheaper than ILIKE. */
const hasCase = (s: string) => s.toLowerCase() !== s.toUpperCase();

export interface SearchPage {
  /** Matches, newest first: `limit + 1` at most, so the caller knows if there are more. */
  hits: SearchHit[];
  /**
   * Set when the walk stopped at its bound before finding `limit + 1` matches: every message
   * newer than this one (itself included) was looked at; older ones were not yet.
   */
  walkedTo?: SearchCursor;
}

/**
 * Messages of the user's groups (optionally one group, or one community's) whose current text
 * matches `q`, newest first, after `cursor`. Matching: the words of `q` as English stems or as
 * plain words (any script); and for `q` with letters outside ASCII, `q` as a substring, so
 * suffixed forms match too (स्वयंसेवकों contains स्वयंसेवक). Deleted messages have no text, so
 * they never match; an edit replaced the text that did.
 *
 * Bounded work (docs/protocol.md §8 "Search"): each group is walked newest first (index
 * events_messages_by_time, from the cursor's time) until `limit + 1` matches or `perGroup`
 * messages, with `perGroup` = max(limit + 1, scanRows / groups). The walk's matches are complete
 * down to the newest place where a group's walk stopped (`walkedTo`): matches past it wait for
 * the next page.
 * An index of matches (GIN) would find a rare word at once, but its cost grows with the matches
 * and posting lists, which a user can make as large as they like; this walk's cannot.
 */
export async function searchMessages(
  db: Queryable,
  userId: string,
  options: {
    q: string;
    groupId?: string | undefined;
    communityId?: string | undefined;
    cursor?: SearchCursor | undefined;
    limit: number;
    scanRows: number;
  },
): Promise<SearchPage> {
  const { q, groupId, communityId, cursor, limit } = options;
  const english = sql`websearch_to_tsquery('english'::regconfig, ${q})`;
  const simple = sql`websearch_to_tsquery('simple'::regconfig, ${q})`;
  // ASCII words: their English stems, or the plain words when English drops them all as stop
  // words; other scripts: both.
  const query = NON_ASCII_LETTER.test(q)
    ? sql`(${english} || ${simple})`
    : sql`(case when numnode(${english}) = 0 then ${simple} else ${english} end)`;
  // The substring first: SQL is free to reorder an `or`, PostgreSQL in practice does not.
  const substring = !(NON_ASCII_LETTER.test(q) && [...q].length >= 3)
    ? sql``
    : hasCase(q)
      ? sql`e.text ilike ${`%${likeEscape(q)}%`} or `
      : sql`strpos(e.text, ${q}) > 0 or `;
  // The same group's walk seeks the cursor's time; `ts <=` is what the index can seek.
  const after = cursor
    ? sql`and e.ts <= ${cursor.ts}::timestamptz and (e.ts, e.group_id, e.seq) < (${cursor.ts}::timestamptz, ${cursor.groupId}, ${cursor.seq})`
    : sql``;
  // The groups first, as a list (one text[] parameter: the statement's text stays the same).
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
  if (scope.length === 0) return { hits: [] };
  const perGroup = Math.max(limit + 1, Math.ceil(options.scanRows / scope.length));
  const result: unknown = await db.execute(sql`
    with walked as materialized (
      select w.*
      from unnest(${textArray(scope.map((g) => g.id))}::text[]) as g(id)
      -- A group's walk ends at its (limit + 1)th match or its perGroup-th message, whichever comes
      -- first (the rows are pulled one by one); the message it ended on is returned either way.
      cross join lateral (
        select * from (
          select e.group_id, e.seq, e.ts, e.ts::text as ts_text, e.sender_id, e.text,
            (e.text is not null
              -- Expired and not swept yet: its content is withheld already.
              and (e.expires_at is null or e.expires_at > now())
              and (${substring}e.search @@ ${query})) as hit,
            row_number() over (order by e.ts desc, e.seq desc) as n
          from ${events} e
          where e.group_id = g.id and e.kind = 'message' ${after}
          order by e.ts desc, e.seq desc
          limit ${perGroup}
        ) r
        where r.hit or r.n = ${perGroup}
        limit ${limit + 1}
      ) w
    ),
    ends as (
      select group_id, max(n) as last_n, count(*) as taken from walked group by group_id
    ),
    -- The newest place where a group's walk stopped short of its start.
    cut as (
      select w.group_id, w.seq, w.ts, w.ts_text from walked w
      join ends on ends.group_id = w.group_id and w.n = ends.last_n
      where ends.taken = ${limit + 1} or ends.last_n = ${perGroup}
      order by w.ts desc, w.group_id desc, w.seq desc limit 1
    )
    (select group_id, seq, ts, ts_text, sender_id, text, false as is_cut from walked
      where hit and not exists (select 1 from cut where (walked.ts, walked.group_id, walked.seq) < (cut.ts, cut.group_id, cut.seq))
      order by ts desc, group_id desc, seq desc
      limit ${limit + 1})
    union all
    select group_id, seq, ts, ts_text, null, null, true from cut`);
  type Row = {
    group_id: string;
    seq: string | number;
    ts: Date | string;
    ts_text: string;
    sender_id: string;
    text: string;
    is_cut: boolean;
  };
  const rows = rowsOf<Row>(result);
  const hits = rows
    .filter((r) => !r.is_cut)
    .map((r) => ({
      groupId: r.group_id,
      seq: Number(r.seq),
      ts: new Date(r.ts),
      tsText: r.ts_text,
      senderId: r.sender_id,
      text: r.text,
    }));
  const cut = rows.find((r) => r.is_cut);
  return cut && hits.length <= limit ? { hits, walkedTo: { ts: cut.ts_text, groupId: cut.group_id, seq: Number(cut.seq) } } : { hits };
}

/** A PostgreSQL array literal of strings, every element quoted. */
const textArray = (values: string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
