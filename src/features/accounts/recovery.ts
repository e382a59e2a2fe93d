import { randomBytes, randomInt } from 'node:crypto';
import type { Accounts, SignedIn, SessionStart } from './accounts.js';
import {
  countRecoveryCodes,
  deleteExpiredSignInLinks,
  findAccount,
  findAccountOfUser,
  findUserIdByUsername,
  hasHadSession,
  insertAccountWithoutPassword,
  replaceRecoveryCodes,
  replaceSignInLink,
  revokeUserSessions,
  takeRecoveryCode,
  takeSignInLink,
  updatePasswordHash,
} from './queries.js';
import type { Principal, Tokens } from '../../platform/auth/tokens.js';
import type { ChatDeps } from '../../platform/deps.js';
import type { Job } from '../../platform/jobs/job.js';
import { nowOf } from '../../platform/deps.js';
import { transaction } from '../../platform/db/transaction.js';
import { newId } from '../../platform/ids.js';
import { requireOperator } from '../../platform/policy/index.js';
import { AppError, badRequest, conflict, notFound } from '../../protocol/errors.js';

// Ways back in without the password (docs/protocol.md §2 "Recovery codes", "Sign-in links").
//
// Recovery codes carry 60 random bits and sign-in link codes 256, so each is stored as an HMAC
// under JWT_SECRET, not a slow hash: guessing online is bounded by the sign-in limits (a code is
// one of 2^60), and a stolen table alone gives nothing to guess against without the key, while
// whoever also holds the key can mint tokens for every account anyway.

/** Codes given at a time. */
export const RECOVERY_CODES = 10;
/** Crockford's base32 (no I, L, O, U): 5 bits a character, read aloud or typed from paper without confusion. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 12 characters: 60 bits. */
const CODE_CHARS = 12;
/** How long an operator's sign-in link works. */
export const LINK_TTL_MS = 24 * 3600 * 1000;

/** A new recovery code, as shown: `abcd-efgh-jkmn`. */
function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < CODE_CHARS; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code.toLowerCase().replace(/(.{4})(?=.)/g, '$1-');
}

/** A typed code in its one form: case, spaces and dashes ignored; I and L read as 1, O as 0. */
export function normalizeRecoveryCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
}

export class Recovery {
  constructor(
    private readonly deps: ChatDeps,
    private readonly accounts: Accounts,
    private readonly tokens: Tokens,
  ) {}

  private codeHash(userId: string, code: string): string {
    return this.tokens.mac(`banyan recovery v1|${userId}|${normalizeRecoveryCode(code)}`);
  }

  private linkHash(code: string): string {
    return this.tokens.mac(`banyan sign-in link v1|${code}`);
  }

  /** A fresh set of codes for the user (the old ones stop working): the codes, shown once, and their hashes to store. */
  newCodes(userId: string): { codes: string[]; hashes: string[] } {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    return { codes, hashes: codes.map((code) => this.codeHash(userId, code)) };
  }

  /** `POST /v1/me/recovery-codes`: the caller's own password, then a new set. */
  async regenerate(principal: Principal, password: string): Promise<string[]> {
    const account = await findAccountOfUser(this.deps.db, principal.userId);
    if (!account) throw badRequest('this user has no local account');
    const { ok } = await this.accounts.passwords.verify(password, account.passwordHash ?? undefined);
    if (!ok) throw new AppError('forbidden', 'wrong password');
    const { codes, hashes } = this.newCodes(principal.userId);
    await replaceRecoveryCodes(this.deps.db, principal.userId, hashes);
    return codes;
  }

  async remaining(principal: Principal): Promise<number> {
    return countRecoveryCodes(this.deps.db, principal.userId);
  }

  /**
   * `POST /v1/accounts/recover`: a recovery code of the username's account sets a new password,
   * ends every other session of the account (sockets close with 4403 on every replica) and starts
   * one. The new password is hashed first whatever the outcome, so an unknown username, a wrong
   * code and a right one cost the same.
   */
  async recover(
    input: { username: string; recoveryCode: string; newPassword: string } & Omit<SessionStart, 'method'>,
  ): Promise<Omit<SignedIn, 'device'>> {
    const passwordHash = await this.accounts.passwords.hash(input.newPassword);
    const account = await findAccount(this.deps.db, input.username);
    const wrong = () => new AppError('unauthorized', 'wrong username or recovery code');
    // An unknown username looks its code up too (under no user's id), so the timing tells nothing.
    const userId = account?.userId ?? 'no user';
    const codeHash = this.codeHash(userId, input.recoveryCode);
    await transaction(this.deps.db, async (tx) => {
      if (!(await takeRecoveryCode(tx, userId, codeHash)) || !account) throw wrong();
      await updatePasswordHash(tx, account.userId, passwordHash);
      await revokeUserSessions(tx, account.userId);
    });
    if (!account) throw wrong();
    const started = await this.accounts.startSession(
      { id: account.userId, name: account.name },
      { method: 'recovery', deviceName: input.deviceName, refresh: input.refresh },
    );
    // Every session but the new one: its sockets, on every replica, close.
    const { sessionId } = await this.tokens.verify(started.token);
    await this.accounts.endedSessions(account.userId, sessionId ?? undefined);
    return started;
  }

  /** `POST /v1/accounts` by an operator: an account with no password, to be handed a sign-in link. */
  async createAccount(operator: Principal, input: { username: string; name?: string | undefined }) {
    requireOperator(operator);
    const user = { id: newId('u'), name: input.name ?? input.username };
    if (!(await insertAccountWithoutPassword(this.deps.db, { userId: user.id, name: user.name, username: input.username })))
      throw conflict('username is taken');
    return { user, username: input.username };
  }

  /** `POST /v1/sign-in-links`: a one-time link for an account that has never had a session. */
  async issueLink(operator: Principal, username: string): Promise<{ code: string; url: string; expiresAt: string }> {
    requireOperator(operator);
    const userId = await findUserIdByUsername(this.deps.db, username);
    if (!userId) throw notFound('account');
    if (await hasHadSession(this.deps.db, userId)) throw conflict('this account has signed in before: it recovers its own way in');
    const code = randomBytes(32).toString('base64url');
    const expiresAt = new Date(nowOf(this.deps) + LINK_TTL_MS);
    await replaceSignInLink(this.deps.db, { codeHash: this.linkHash(code), userId, createdBy: operator.userId, expiresAt });
    const base = (this.deps.config.auth.publicUrl ?? '').replace(/\/+$/, '');
    return { code, url: `${base}/#/link/${code}`, expiresAt: expiresAt.toISOString() };
  }

  /** Hourly: links that expired unused are deleted (any replica may; deleting twice is harmless). */
  pruneJob(): Job {
    return {
      name: 'accounts.sign-in-links-prune',
      kind: 'periodic',
      everyMs: 3600_000,
      run: () => deleteExpiredSignInLinks(this.deps.db, new Date(nowOf(this.deps))),
    };
  }

  /** `POST /v1/sign-in-links/redeem`: the link's account signs in, once; a used, expired or unknown link is 401. */
  async redeemLink(input: { code: string } & Omit<SessionStart, 'method'>): Promise<Omit<SignedIn, 'device'>> {
    const invalid = () => new AppError('unauthorized', 'this sign-in link is not valid (used, expired or unknown)');
    const user = await transaction(this.deps.db, async (tx) => {
      const found = await takeSignInLink(tx, this.linkHash(input.code), new Date(nowOf(this.deps)));
      // Signed in some other way since it was issued: the link is spent, not a way around that account's own.
      if (!found || (await hasHadSession(tx, found.id))) return undefined;
      return found;
    });
    if (!user) throw invalid();
    return this.accounts.startSession(user, { method: 'link', deviceName: input.deviceName, refresh: input.refresh });
  }
}
