import { randomBytes, randomInt } from 'node:crypto';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { InviteJoin, SignUpThrough } from '../communities/index.js';
import { waysIn } from '../accounts/index.js';
import type { Queryable } from '../../platform/db/connect.js';
import { transaction } from '../../platform/db/transaction.js';
import type { Tokens } from '../../platform/auth/tokens.js';
import type { ChatDeps } from '../../platform/deps.js';
import { nowOf } from '../../platform/deps.js';
import { newId } from '../../platform/ids.js';
import { isWebhookSecret } from '../../platform/net/standard-webhooks.js';
import { systemClock } from '../../platform/clock.js';
import { AppError, badRequest, conflict, notFound } from '../../protocol/errors.js';
import { normalisePhone } from './numbers.js';
import {
  type CodePurpose,
  deletePhone,
  findPhoneOf,
  findUserByPhone,
  insertCode,
  insertPhoneAccount,
  pruneCodes,
  setPhone,
  tryCode,
  useCode,
} from './queries.js';
import { CodeOutbox, type CodeSender, consoleSender, webhookSender } from './senders.js';
import type { Job } from '../../platform/jobs/job.js';

/** docs/protocol.md §2 "Phone numbers and one-time codes". */
export const CODE_TTL_MS = 5 * 60_000;
export const CODE_MAX_ATTEMPTS = 5;
const PRUNE_EVERY_MS = 3600_000;

/** What starts a session (accounts' `startSession`: every way in ends there), as this feature calls it. */
export interface SessionStarter {
  startSession(
    user: { id: string; name: string },
    start: { method: 'phone'; deviceName?: string | undefined; refresh?: boolean | undefined },
  ): Promise<HttpReply<'signedIn'>>;
}
type SessionStart = Parameters<SessionStarter['startSession']>[1];
type SessionFields = Omit<SessionStart, 'method'>;

/** What a sign-up through an invite needs of communities (as accounts' sign-up uses it: docs/protocol.md §2). */
export interface InviteSignUps {
  takeSignUpUse(code: string): Promise<'taken' | 'unlimited'>;
  joinByInvite(userId: string, code: string, signUp: SignUpThrough): Promise<InviteJoin>;
}

/** The phone limits (gateway/rate-limits.ts), as this feature uses them. */
export interface PhoneLimiter {
  codeRequested(phone: string, address: string): Promise<void>;
  codeChecked(phone: string, address: string): Promise<void>;
}

const wrongCode = () => new AppError('unauthorized', 'wrong or expired code');

/**
 * Which sender OTP_SENDER asks for: unset, the console with embedded storage and none with
 * DATABASE_URL (a production server never logs codes unless told to). Throws at start when the
 * webhook sender lacks its URL or secret (the secret is never printed).
 */
export function pickSender(deps: Pick<ChatDeps, 'config' | 'logger'>, databaseUrl: string | undefined): CodeSender | undefined {
  const { phone, outbound } = deps.config;
  const kind = phone.sender ?? (databaseUrl ? 'off' : 'console');
  if (kind === 'off') return undefined;
  if (kind === 'console') return consoleSender(deps.logger);
  if (!phone.webhookUrl) throw new Error('OTP_SENDER=webhook needs OTP_WEBHOOK_URL');
  if (!phone.webhookSecret || !isWebhookSecret(phone.webhookSecret))
    throw new Error('OTP_SENDER=webhook needs OTP_WEBHOOK_SECRET, whsec_ and a base64 key (as Standard Webhooks gives)');
  return webhookSender({ url: phone.webhookUrl, secret: phone.webhookSecret, timeoutMs: outbound.timeoutMs });
}

/**
 * Phone numbers as a way in (docs/protocol.md §2): one-time codes sent in the background, checked
 * against their HMAC, single use; sign-in (an account is made for a new number) and a member's own
 * verified number. Nothing answered before a code is proven depends on whether the number has an
 * account: asking for a code never looks one up.
 */
export class PhoneSignIn {
  readonly outbox: CodeOutbox | undefined;

  constructor(
    private readonly deps: ChatDeps,
    private readonly accounts: SessionStarter,
    private readonly tokens: Pick<Tokens, 'mac'>,
    private readonly invites: InviteSignUps,
    sender: CodeSender | undefined,
  ) {
    this.outbox = sender ? new CodeOutbox(sender, deps.logger, deps.clock ?? systemClock) : undefined;
  }

  /** Codes can be sent (OTP_SENDER is not off): the endpoints are served. */
  get enabled(): boolean {
    return this.outbox !== undefined;
  }

  jobs(): Job[] {
    if (!this.outbox) return [];
    return [
      this.outbox.job(),
      {
        name: 'phone.prune',
        kind: 'periodic',
        everyMs: PRUNE_EVERY_MS,
        jitterMs: PRUNE_EVERY_MS / 10,
        run: () => pruneCodes(this.deps.db, new Date(nowOf(this.deps) - 24 * 3600_000)),
      },
    ];
  }

  normalise(typed: string): string {
    return normalisePhone(typed, this.deps.config.phone.defaultRegion);
  }

  /**
   * Sends a new code to the number (the earlier one dies): the same work, answer and time whether
   * or not it has an account. `userId` for a member verifying a number of theirs.
   */
  async requestCode(
    phone: string,
    purpose: CodePurpose,
    who: { address: string; userId?: string | undefined; locale?: string | undefined },
    limits: PhoneLimiter,
  ): Promise<void> {
    await limits.codeRequested(phone, who.address);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const userId = who.userId ?? null;
    const expiresAt = new Date(nowOf(this.deps) + CODE_TTL_MS);
    await insertCode(this.deps.db, {
      id: `pc_${randomBytes(12).toString('base64url')}`,
      phone,
      purpose,
      userId,
      codeHash: this.codeHash(phone, purpose, userId, code),
      expiresAt,
    });
    this.outbox!.owe({ phone, code, purpose, expiresAt, locale: who.locale });
  }

  /**
   * Signs in with a code: 200 for the account with this verified number, 201 with a new
   * password-less account (which needs `name`; asked for only once the code is proven, and the
   * code stays usable for the answer that gives it).
   */
  async signIn(
    input: { phone: string; code: string; name?: string | undefined; invite?: string | undefined } & SessionFields,
    address: string,
    limits: PhoneLimiter,
  ): Promise<{ status: 200 | 201; body: HttpReply<'signedIn'> }> {
    const codeId = await this.check(input.phone, 'sign-in', null, input.code, address, limits);
    const start: SessionStart = { method: 'phone', deviceName: input.deviceName, refresh: input.refresh };
    const existing = await findUserByPhone(this.deps.db, input.phone);
    if (existing) {
      await this.use(this.deps.db, codeId);
      return { status: 200, body: await this.accounts.startSession(existing, start) };
    }
    if (input.name === undefined) throw badRequest('name required', { field: 'name' });
    const user = { id: newId('u'), name: input.name };
    // Unguessable: nobody can find or add the account by a username they could guess.
    const username = `p_${randomBytes(12).toString('hex')}`;
    // The code is used up in the account's own transaction: a join by invite that fails leaves it usable.
    const createAccount = async (db: Queryable) => {
      await transaction(db, async (tx) => {
        await this.use(tx, codeId);
        // Another sign-in with a code for this number made its account a moment ago (and used its code).
        if (!(await insertPhoneAccount(tx, { userId: user.id, name: user.name, username, phone: input.phone })))
          throw conflict('this number has an account now: ask for a new code and sign in');
      });
    };
    const code = input.invite;
    let invite: InviteJoin | undefined;
    if (code === undefined) await createAccount(this.deps.db);
    else {
      // As a sign-up with a password (docs/protocol.md §2), but the address's allowance is its phone codes'.
      const useTaken = (await this.invites.takeSignUpUse(code)) === 'taken';
      invite = await this.invites.joinByInvite(user.id, code, { createAccount, useTaken });
    }
    const started = await this.accounts.startSession(user, start);
    return { status: 201, body: invite ? { ...started, invite } : started };
  }

  /**
   * Verifies a code sent to the member's new number and makes it theirs. A number another account
   * has verified answers 409, but only once the code was proven: only its holder learns it.
   */
  async attach(userId: string, input: { phone: string; code: string }, address: string, limits: PhoneLimiter): Promise<{ phone: string }> {
    const codeId = await this.check(input.phone, 'verify', userId, input.code, address, limits);
    await this.use(this.deps.db, codeId);
    if (!(await setPhone(this.deps.db, userId, input.phone))) throw conflict('this number is verified on another account');
    return { phone: input.phone };
  }

  /** Removes the member's number, unless it is their only way in. */
  async detach(userId: string): Promise<void> {
    if (!(await findPhoneOf(this.deps.db, userId))) throw notFound('phone');
    if (!(await this.otherWaysIn(userId))) throw conflict("the phone number is this account's only way in: set a password first");
    await deletePhone(this.deps.db, userId);
  }

  /** Whether the account has a way in besides its phone number (accounts' `waysIn` knows them all). */
  async otherWaysIn(userId: string): Promise<boolean> {
    const ways = await waysIn(this.deps.db, userId);
    return ways.password || ways.passkeys > 0;
  }

  /** The member's own number, for `GET /v1/me` (never anyone else's). */
  async phoneOf(userId: string): Promise<string | null> {
    return (await findPhoneOf(this.deps.db, userId))?.phone ?? null;
  }

  /** Takes one of the code's attempts; the code's id when it is right (not yet used up). */
  private async check(
    phone: string,
    purpose: CodePurpose,
    userId: string | null,
    code: string,
    address: string,
    limits: PhoneLimiter,
  ): Promise<string> {
    await limits.codeChecked(phone, address);
    const id = await tryCode(
      this.deps.db,
      { phone, purpose, userId, codeHash: this.codeHash(phone, purpose, userId, code) },
      CODE_MAX_ATTEMPTS,
    );
    if (id === undefined) throw wrongCode();
    return id;
  }

  /** Uses the code up (once: a second use, even at the same moment, is refused). */
  private async use(db: Queryable, codeId: string): Promise<void> {
    if (!(await useCode(db, codeId))) throw wrongCode();
  }

  /**
   * HMAC-SHA256 under the server's key, bound to the number, purpose and member: a million codes
   * are nothing to try against a plain hash, while this one is worthless without the key; a slow
   * hash would cost CPU per check for a code that lives 5 minutes and has 5 tries.
   */
  private codeHash(phone: string, purpose: CodePurpose, userId: string | null, code: string): string {
    return this.tokens.mac(`banyan phone code v1|${purpose}|${phone}|${userId ?? ''}|${code}`);
  }
}
