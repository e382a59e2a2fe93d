import { randomBytes } from 'node:crypto';
import { and, asc, count, eq, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { passkeyChallenges, passkeys, type PasskeyRow } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';

export type ChallengePurpose = 'register' | 'sign_in' | 'sign_up';
export interface SignUpHold {
  username: string;
  name: string;
  userId: string;
}

/** Ids of this folder's rows: a prefix, then 96 random bits. */
export const newPasskeyId = () => `k_${randomBytes(12).toString('base64url')}`;
const newChallengeId = () => `wc_${randomBytes(16).toString('base64url')}`;

/** Stores a challenge (expired ones go at the same time); its id is what the client answers with. */
export async function insertChallenge(
  db: Queryable,
  c: { challenge: string; purpose: ChallengePurpose; userId: string | null; signUp: SignUpHold | null; expiresAt: Date; now: Date },
): Promise<string> {
  const id = newChallengeId();
  await db.delete(passkeyChallenges).where(lt(passkeyChallenges.expiresAt, c.now));
  await db
    .insert(passkeyChallenges)
    .values({ id, challenge: c.challenge, purpose: c.purpose, userId: c.userId, signUp: c.signUp, expiresAt: c.expiresAt });
  return id;
}

/**
 * Takes a challenge: single use, so it is deleted whatever happens next. Undefined unless it exists,
 * has not expired, and was issued for this purpose (and this user, for a registration).
 */
export async function takeChallenge(db: Queryable, id: string, purpose: ChallengePurpose, userId: string | null, now: Date) {
  const [row] = await db.delete(passkeyChallenges).where(eq(passkeyChallenges.id, id)).returning();
  if (!row || row.purpose !== purpose || row.expiresAt <= now || row.userId !== userId) return undefined;
  return row;
}

/** Inserts a passkey; false when its credential is registered already (to this account or another). */
export async function insertPasskey(db: Queryable, row: Omit<PasskeyRow, 'createdAt' | 'lastUsedAt'>): Promise<PasskeyRow | false> {
  try {
    return await transaction(db, async (tx) => {
      const [stored] = await tx.insert(passkeys).values(row).returning();
      return stored!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export async function listPasskeys(db: Queryable, userId: string): Promise<PasskeyRow[]> {
  return db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt), asc(passkeys.id));
}

/** The user's passkeys, locked until the transaction ends (two removals at once see each other). */
export async function lockPasskeys(tx: Queryable, userId: string): Promise<PasskeyRow[]> {
  return tx.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.id)).for('update');
}

export async function findPasskeyByCredential(db: Queryable, credentialId: string): Promise<PasskeyRow | undefined> {
  const [row] = await db.select().from(passkeys).where(eq(passkeys.credentialId, credentialId)).limit(1);
  return row;
}

/** Renames one of the user's passkeys; undefined when the user has no passkey of that id. */
export async function renamePasskey(db: Queryable, userId: string, id: string, name: string): Promise<PasskeyRow | undefined> {
  const [row] = await db
    .update(passkeys)
    .set({ name })
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning();
  return row;
}

export async function deletePasskey(db: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(passkeys)
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning({ id: passkeys.id });
  return rows.length > 0;
}

export async function countPasskeys(db: Queryable, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, userId));
  return Number(row?.n ?? 0);
}

/**
 * Records a use: the counter moves to `counter` only if that is higher than the stored one (or
 * both are 0: an authenticator that keeps no counter). False when it is not (a cloned
 * authenticator, or two uses racing with one counter value): nothing is changed.
 */
export async function recordUse(db: Queryable, id: string, counter: number, now: Date): Promise<boolean> {
  const rows = await db
    .update(passkeys)
    .set({ counter, lastUsedAt: now })
    .where(and(eq(passkeys.id, id), or(lt(passkeys.counter, counter), and(eq(passkeys.counter, 0), sql`${counter} = 0`))))
    .returning({ id: passkeys.id });
  return rows.length > 0;
}
