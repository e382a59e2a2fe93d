import type { Db } from '../../platform/db/connect.js';
import { findMembership } from '../groups/index.js';
import { findCommunityStanding } from '../communities/index.js';
import { requireCommunityMember, requireMembership } from '../../platform/policy/index.js';
import { type SearchCursor, searchMessages } from './queries.js';
import { badRequest } from '../../protocol/errors.js';

export interface SearchResult {
  group: string;
  seq: number;
  ts: string;
  sender: string;
  text: string;
  /** A short plain-text excerpt around the first match (no markup). */
  snippet: string;
}

const SNIPPET_BEFORE = 60;
const SNIPPET_CHARS = 160;

/** Search over the messages of the caller's groups (docs/protocol.md §8 "Search"). */
export class Search {
  constructor(
    private readonly db: Db,
    /** Messages one search may look at (SEARCH_SCAN_ROWS, docs/protocol.md §8). */
    private readonly scanRows: number,
  ) {}

  async search(
    userId: string,
    input: { q: string; group?: string | undefined; community?: string | undefined; cursor?: string | undefined; limit: number },
  ): Promise<{ results: SearchResult[]; nextCursor: string | null; partial?: true }> {
    // A group or community the caller is not in does not exist for them.
    if (input.group) requireMembership(await findMembership(this.db, input.group, userId));
    if (input.community) requireCommunityMember(await findCommunityStanding(this.db, input.community, userId));
    const { hits, walkedTo } = await searchMessages(this.db, userId, {
      q: input.q,
      groupId: input.group,
      communityId: input.community,
      cursor: input.cursor ? decodeCursor(input.cursor) : undefined,
      limit: input.limit,
      scanRows: this.scanRows,
    });
    const page = hits.slice(0, input.limit);
    const last = page.at(-1);
    // More to look at although the page is not full: the next page goes on from where this one stopped.
    const next = hits.length > input.limit && last ? { ts: last.tsText, groupId: last.groupId, seq: last.seq } : (walkedTo ?? null);
    return {
      results: page.map((h) => ({
        group: h.groupId,
        seq: h.seq,
        ts: h.ts.toISOString(),
        sender: h.senderId,
        text: h.text,
        snippet: snippetOf(h.text, input.q),
      })),
      nextCursor: next ? encodeCursor(next) : null,
      ...(walkedTo ? { partial: true } : {}),
    };
  }
}

const encodeCursor = (c: SearchCursor) => Buffer.from(JSON.stringify([c.ts, c.groupId, c.seq])).toString('base64url');

function decodeCursor(raw: string): SearchCursor {
  try {
    const [ts, groupId, seq] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown[];
    if (typeof ts === 'string' && /^[\d\-: .+]{10,40}$/.test(ts) && typeof groupId === 'string' && Number.isSafeInteger(seq)) {
      return { ts, groupId, seq: seq as number };
    }
  } catch {
    // falls through to the error below
  }
  throw badRequest('invalid cursor');
}

/**
 * The text around the first place a word of `q` (or, for stemmed English, its first five
 * letters) occurs, cut at spaces, with `…` where it was cut. Plain text: clients escape it.
 */
export function snippetOf(text: string, q: string): string {
  if (text.length <= SNIPPET_CHARS) return text;
  const lower = text.toLowerCase();
  const words = q
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/^[-"]+|"+$/g, ''))
    .filter((w) => w.length > 0 && w !== 'or');
  let at = -1;
  for (const w of [q.toLowerCase().trim(), ...words, ...words.map((w) => w.slice(0, 5))]) {
    at = lower.indexOf(w);
    if (at >= 0) break;
  }
  let start = Math.max(0, at - SNIPPET_BEFORE);
  let end = Math.min(text.length, start + SNIPPET_CHARS);
  if (start > 0) {
    const space = text.indexOf(' ', start);
    if (space >= 0 && space < Math.max(at, start + 1)) start = space + 1;
  }
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    if (space > Math.max(at, start)) end = space;
  }
  return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
}
