import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '../../platform/db/connect.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { accounts, phoneCodes, phones, users } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';
import { rowsOf } from '../../platform/db/rows.js';

export type CodePurpose = 'sign-in' | 'verify';

/** Stores a new code for the number (and purpose, and member for `verify`); earlier live ones die with it. */
export async function insertCode(
  db: Queryable,
  code: { id: string; phone: string; purpose: CodePurpose; userId: string | null; codeHash: string; expiresAt: Date },
): Promise<void> {
  await transaction(db, async (tx) => {
    await tx
      .update(phoneCodes)
      .set({ usedAt: sql`now()` })
      .where(
        and(
          eq(phoneCodes.phone, code.phone),
          eq(phoneCodes.purpose, code.purpose),
          isNull(phoneCodes.usedAt),
          code.userId === null ? isNull(phoneCodes.userId) : eq(phoneCodes.userId, code.userId),
        ),
      );
    await tx.insert(phoneCodes).values(code);
  });
}

/**
 * One try of the number's newest live code: takes one of its attempts, in one statement, and
 * answers its id when `codeHash` is the code's. A code that is used, expired or out of attempts
 * is never matched, so tries sent together cannot exceed `maxAttempts`.
 */
export async function tryCode(
  db: Queryable,
  code: { phone: string; purpose: CodePurpose; userId: string | null; codeHash: string },
  maxAttempts: number,
): Promise<string | undefined> {
  const owner = code.userId === null ? sql`user_id is null` : sql`user_id = ${code.userId}`;
  const result = await db.execute(sql`
    update phone_codes
       set attempts = attempts + 1
     where id = (select id from phone_codes
                  where phone = ${code.phone} and purpose = ${code.purpose} and ${owner} and used_at is null
                  order by created_at desc limit 1)
       and used_at is null and attempts < ${maxAttempts} and expires_at > now()
    returning id, code_hash = ${code.codeHash} as right`);
  return rowsOf<{ id: string; right: boolean }>(result).find((r) => r.right)?.id;
}

/** Uses the code up; false when it already was (a replay, or a use at the same moment). */
export async function useCode(db: Queryable, id: string): Promise<boolean> {
  const rows = await db
    .update(phoneCodes)
    .set({ usedAt: sql`now()` })
    .where(and(eq(phoneCodes.id, id), isNull(phoneCodes.usedAt)))
    .returning({ id: phoneCodes.id });
  return rows.length > 0;
}

/** Codes past their expiry (or used) more than a day ago: removed. */
export async function pruneCodes(db: Queryable, before: Date): Promise<void> {
  await db.delete(phoneCodes).where(or(lt(phoneCodes.expiresAt, before), lt(phoneCodes.usedAt, before)));
}

/** The account whose verified number this is. */
export async function findUserByPhone(db: Queryable, phone: string) {
  const [row] = await db
    .select({ id: users.id, name: users.name })
    .from(phones)
    .innerJoin(users, eq(users.id, phones.userId))
    .where(eq(phones.phone, phone))
    .limit(1);
  return row;
}

/** The member's own verified number, if any. */
export async function findPhoneOf(db: Queryable, userId: string) {
  const [row] = await db
    .select({ phone: phones.phone, verifiedAt: phones.verifiedAt })
    .from(phones)
    .where(eq(phones.userId, userId))
    .limit(1);
  return row;
}

/** A new password-less account whose way in is this number; false when the number was taken meanwhile. */
export async function insertPhoneAccount(
  db: Queryable,
  account: { userId: string; name: string; username: string; phone: string },
): Promise<boolean> {
  try {
    await transaction(db, async (tx) => {
      await tx.insert(users).values({ id: account.userId, name: account.name });
      await tx.insert(accounts).values({ username: account.username, userId: account.userId, passwordHash: null });
      await tx.insert(phones).values({ userId: account.userId, phone: account.phone, verifiedAt: new Date() });
    });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Sets (or replaces) the member's number; false when another account has it. */
export async function setPhone(db: Queryable, userId: string, phone: string): Promise<boolean> {
  try {
    await db
      .insert(phones)
      .values({ userId, phone, verifiedAt: new Date() })
      .onConflictDoUpdate({ target: phones.userId, set: { phone, verifiedAt: new Date() } });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export async function deletePhone(db: Queryable, userId: string): Promise<boolean> {
  const rows = await db.delete(phones).where(eq(phones.userId, userId)).returning({ userId: phones.userId });
  return rows.length > 0;
}
