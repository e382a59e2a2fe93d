import { and, count, eq, gt, isNull, lte, ne, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { rowsOf } from '../../platform/db/rows.js';
import { accounts, recoveryCodes, sessions, signInLinks, users, type UserRow } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';

/** Creates a token's subject on first sight; `nameClaim` is the identity service's `name`, if any. */
export async function insertUserIfMissing(db: Queryable, id: string, name: string, nameClaim?: string): Promise<void> {
  await db
    .insert(users)
    .values({ id, name, claimedName: nameClaim ?? null })
    .onConflictDoNothing();
}

export async function findUser(db: Queryable, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/** Inserts the user and its account; false when the username is taken. */
export async function insertAccount(
  db: Queryable,
  account: { userId: string; name: string; username: string; passwordHash: string | null },
): Promise<boolean> {
  try {
    await transaction(db, async (tx) => {
      await tx.insert(users).values({ id: account.userId, name: account.name });
      await tx.insert(accounts).values({ username: account.username, userId: account.userId, passwordHash: account.passwordHash });
    });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export async function findAccount(db: Queryable, username: string) {
  const [row] = await db
    .select({ userId: accounts.userId, passwordHash: accounts.passwordHash, name: users.name })
    .from(accounts)
    .innerJoin(users, eq(users.id, accounts.userId))
    .where(eq(accounts.username, username))
    .limit(1);
  return row;
}

/** The user id of a local account's username, if there is one. */
export async function findUserIdByUsername(db: Queryable, username: string): Promise<string | undefined> {
  const [row] = await db.select({ userId: accounts.userId }).from(accounts).where(eq(accounts.username, username)).limit(1);
  return row?.userId;
}

/** The local account of a user, if it has one. */
export async function findAccountOfUser(db: Queryable, userId: string) {
  const [row] = await db
    .select({ username: accounts.username, passwordHash: accounts.passwordHash })
    .from(accounts)
    .where(eq(accounts.userId, userId))
    .limit(1);
  return row;
}

export async function updatePasswordHash(db: Queryable, userId: string, passwordHash: string): Promise<void> {
  await db.update(accounts).set({ passwordHash }).where(eq(accounts.userId, userId));
}

/** Revokes every session of the user, except one (the caller's, on a password change). */
export async function revokeUserSessions(db: Queryable, userId: string, except?: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), except === undefined ? undefined : ne(sessions.id, except)));
}

export async function insertSession(
  db: Queryable,
  session: {
    id: string;
    userId: string;
    expiresAt: Date;
    method: string;
    deviceName: string | null;
    /** With a refresh token (features/accounts/session-tokens.ts): its first secret's hash and expiry. */
    refreshHash?: string;
    refreshedAt?: Date;
    refreshExpiresAt?: Date;
  },
) {
  await db.insert(sessions).values(session);
}

/**
 * Marks a session revoked; a session this server did not start (an external token's `sid`) is
 * recorded as revoked, so the token is refused from now on. Another user's session is untouched.
 */
export async function revokeSession(db: Queryable, session: { id: string; userId: string; expiresAt: Date }): Promise<void> {
  await db
    .insert(sessions)
    .values({ ...session, revokedAt: new Date() })
    .onConflictDoUpdate({
      target: [sessions.userId, sessions.id],
      set: { revokedAt: sql`coalesce(${sessions.revokedAt}, excluded.revoked_at)` },
    });
}

/** How and when a session began (for decisions that depend on a fresh sign-in). */
export async function findSessionStart(db: Queryable, userId: string, sessionId: string) {
  const [row] = await db
    .select({ method: sessions.method, createdAt: sessions.createdAt })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), eq(sessions.id, sessionId)))
    .limit(1);
  return row;
}

/**
 * Every way the user can sign in (docs/protocol.md §2): a password, passkeys, a verified phone
 * number. One place knows them all, so removing one way never leaves an account with none; a new
 * way in adds its table here.
 */
export async function waysIn(db: Queryable, userId: string): Promise<{ password: boolean; passkeys: number; phone: boolean }> {
  const result = await db.execute(sql`select
      coalesce((select password_hash is not null from accounts where user_id = ${userId}), false) as password,
      (select count(*)::int from passkeys where user_id = ${userId}) as passkeys,
      exists (select 1 from phones where user_id = ${userId}) as phone`);
  const [row] = rowsOf<{ password: boolean; passkeys: number; phone: boolean }>(result);
  return { password: Boolean(row?.password), passkeys: Number(row?.passkeys ?? 0), phone: Boolean(row?.phone) };
}

/** Inserts a user and an account that has no password yet (an operator's, docs/protocol.md §2 "Sign-in links"); false when the username is taken. */
export async function insertAccountWithoutPassword(db: Queryable, account: { userId: string; name: string; username: string }) {
  try {
    await transaction(db, async (tx) => {
      await tx.insert(users).values({ id: account.userId, name: account.name });
      await tx.insert(accounts).values({ username: account.username, userId: account.userId, passwordHash: null });
    });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Replaces the user's recovery codes with these (hashes). */
export async function replaceRecoveryCodes(db: Queryable, userId: string, codeHashes: readonly string[]): Promise<void> {
  await transaction(db, async (tx) => {
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
    if (codeHashes.length > 0) await tx.insert(recoveryCodes).values(codeHashes.map((codeHash) => ({ userId, codeHash })));
  });
}

/** Uses up one recovery code: true when it was the user's and unused (it is gone now). */
export async function takeRecoveryCode(db: Queryable, userId: string, codeHash: string): Promise<boolean> {
  const rows = await db
    .delete(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash)))
    .returning({ userId: recoveryCodes.userId });
  return rows.length > 0;
}

export async function countRecoveryCodes(db: Queryable, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  return Number(row?.n ?? 0);
}

/** True when the user has ever had a session this server started (revoked and expired ones count). */
export async function hasHadSession(db: Queryable, userId: string): Promise<boolean> {
  const [row] = await db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, userId)).limit(1);
  return row !== undefined;
}

/** Stores a sign-in link, replacing any earlier one of the same account. */
export async function replaceSignInLink(
  db: Queryable,
  link: { codeHash: string; userId: string; createdBy: string; expiresAt: Date },
): Promise<void> {
  await transaction(db, async (tx) => {
    await tx.delete(signInLinks).where(eq(signInLinks.userId, link.userId));
    await tx.insert(signInLinks).values(link);
  });
}

/** Uses up a sign-in link: its account's user id and name, or undefined when unknown, used or expired. */
export async function takeSignInLink(db: Queryable, codeHash: string, now: Date) {
  const [row] = await db
    .delete(signInLinks)
    .where(and(eq(signInLinks.codeHash, codeHash), gt(signInLinks.expiresAt, now)))
    .returning({ userId: signInLinks.userId });
  if (!row) return undefined;
  const [user] = await db.select({ id: users.id, name: users.name }).from(users).where(eq(users.id, row.userId)).limit(1);
  return user;
}

/** Forgets sign-in links that have expired unused. */
export async function deleteExpiredSignInLinks(db: Queryable, now: Date): Promise<void> {
  await db.delete(signInLinks).where(lte(signInLinks.expiresAt, now));
}
