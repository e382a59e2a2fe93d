import { and, asc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { sessions, users } from '../../platform/db/schema.js';

// The session rows of refresh tokens and of the member's session list (docs/protocol.md §2
// "Sessions and refresh tokens"). `now` is the domain clock's, passed in.

/** A session still usable at `now`: not revoked, and its access token or its refresh token still valid. */
const live = (now: Date) => and(isNull(sessions.revokedAt), or(gt(sessions.expiresAt, now), gt(sessions.refreshExpiresAt, now)));

/**
 * Rotates a refresh token, atomically: only the row still at `generation` with `hash`, unrevoked
 * and unexpired, moves on, so of two uses of one token exactly one does. The user's id and name,
 * or undefined when nothing matched.
 */
export async function rotateRefresh(
  db: Queryable,
  r: { id: string; generation: number; hash: string; nextHash: string; now: Date; refreshExpiresAt: Date; expiresAt: Date },
): Promise<{ userId: string } | undefined> {
  const [row] = await db
    .update(sessions)
    .set({
      refreshHash: r.nextHash,
      refreshGeneration: r.generation + 1,
      refreshedAt: r.now,
      refreshExpiresAt: r.refreshExpiresAt,
      lastSeenAt: r.now,
      expiresAt: sql`greatest(${sessions.expiresAt}, ${r.expiresAt.toISOString()}::timestamptz)`,
    })
    .where(
      and(
        eq(sessions.id, r.id),
        eq(sessions.refreshGeneration, r.generation),
        eq(sessions.refreshHash, r.hash),
        isNull(sessions.revokedAt),
        gt(sessions.refreshExpiresAt, r.now),
      ),
    )
    .returning({ userId: sessions.userId });
  return row;
}

/** A session's refresh state, by its id alone (what a refresh token names). */
export async function findRefreshSession(db: Queryable, id: string) {
  const [row] = await db
    .select({
      userId: sessions.userId,
      refreshHash: sessions.refreshHash,
      refreshGeneration: sessions.refreshGeneration,
      refreshedAt: sessions.refreshedAt,
      refreshExpiresAt: sessions.refreshExpiresAt,
      revokedAt: sessions.revokedAt,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .where(eq(sessions.id, id))
    .limit(1);
  return row;
}

/** A retry inside the grace: a new access token for the same refresh token; the session is seen now. */
export async function touchRefresh(db: Queryable, r: { id: string; userId: string; now: Date; expiresAt: Date }): Promise<void> {
  await db
    .update(sessions)
    .set({ lastSeenAt: r.now, expiresAt: sql`greatest(${sessions.expiresAt}, ${r.expiresAt.toISOString()}::timestamptz)` })
    .where(and(eq(sessions.userId, r.userId), eq(sessions.id, r.id)));
}

/** Marks the session seen (a socket opened with its token), unless it was seen after `since` (then nothing is written). */
export async function touchSession(db: Queryable, s: { id: string; userId: string; now: Date; since: Date }): Promise<void> {
  await db
    .update(sessions)
    .set({ lastSeenAt: s.now })
    .where(and(eq(sessions.userId, s.userId), eq(sessions.id, s.id), isNull(sessions.revokedAt), lt(sessions.lastSeenAt, s.since)));
}

/** The user's live sessions, oldest first. */
export function liveSessionsOf(db: Queryable, userId: string, now: Date) {
  return db
    .select({
      id: sessions.id,
      deviceName: sessions.deviceName,
      method: sessions.method,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), live(now)))
    .orderBy(asc(sessions.createdAt), asc(sessions.id));
}

/** Revokes one live session of the user; false when the user has no such live session. */
export async function revokeLiveSession(db: Queryable, userId: string, id: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.userId, userId), eq(sessions.id, id), live(now)))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/** A user's name now (a refreshed access token carries it). */
export async function userName(db: Queryable, userId: string): Promise<string | undefined> {
  const [row] = await db.select({ name: users.name }).from(users).where(eq(users.id, userId)).limit(1);
  return row?.name;
}
