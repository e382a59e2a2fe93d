import { randomBytes, timingSafeEqual } from 'node:crypto';
import { PasswordHasher } from './password.js';
import { Recovery } from './recovery.js';
import type { Principal, Tokens } from '../../platform/auth/tokens.js';
import {
  findAccount,
  findAccountOfUser,
  findSessionStart,
  insertAccount,
  insertSession,
  insertUserIfMissing,
  replaceRecoveryCodes,
  revokeSession,
  revokeUserSessions,
  updatePasswordHash,
} from './queries.js';
import { newId } from '../../platform/ids.js';
import { AppError, conflict } from '../../protocol/errors.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import { mayChangePasswordWithoutCurrent } from '../../platform/policy/index.js';
import { publishCommitted } from '../../platform/db/outbox.js';
import { RevokedSessions } from './revoked-sessions.js';
import { SessionTokens } from './session-tokens.js';
import { transaction } from '../../platform/db/transaction.js';
import type { Queryable, Tx } from '../../platform/db/connect.js';

export interface SignedIn {
  user: { id: string; name: string };
  token: string;
  expiresAt: string;
  /** A trusted-device token, to send with later sign-ins (docs/protocol.md §2). */
  device: string;
  /** With `refresh: true` (docs/protocol.md §2 "Sessions and refresh tokens"): `<sessionId>.<generation>.<secret>`. */
  refreshToken?: string;
  /** When the refresh token expires unless used before (each use moves it on). */
  refreshExpiresAt?: string;
  /** A password sign-up's recovery codes, shown this once (docs/protocol.md §2 "Recovery codes"). */
  recoveryCodes?: string[];
}

/** How a session began (the `sessions.method` column). */
export type SignInMethod = 'password' | 'passkey' | 'phone' | 'recovery' | 'link';

/** What starts a session: every way in (password, passkey, phone code, recovery, link) ends in `startSession`. */
export interface SessionStart {
  method: SignInMethod;
  /** The device's own name for itself, as the client sent it. */
  deviceName?: string | undefined;
  /** The client wants a refresh token with a short access token (docs/protocol.md §2). */
  refresh?: boolean | undefined;
}

/** Users, local accounts and sessions. */
export class Accounts {
  /** Users already known to exist, so a reconnect storm does not write per connection. */
  private readonly knownUsers = new Set<string>();
  readonly passwords: PasswordHasher;
  /** Recovery codes and operators' sign-in links (recovery.ts). */
  readonly recovery: Recovery;
  /** Fed by the bus (Hub -> revokedHeard); without it every lookup asks storage. */
  readonly revoked: RevokedSessions;
  /** Refresh tokens and the member's session list (docs/protocol.md §2 "Sessions and refresh tokens"). */
  readonly sessions: SessionTokens;

  constructor(
    private readonly deps: ChatDeps,
    private readonly tokens: Tokens,
  ) {
    const { passwordHash: scheme, argon2MemoryKiB, argon2TimeCost, scryptLogN } = deps.config.auth;
    this.passwords = new PasswordHasher({ scheme, argon2MemoryKiB, argon2TimeCost, scryptLogN });
    this.recovery = new Recovery(deps, this, tokens);
    this.revoked = new RevokedSessions(deps.db, deps.logger, () => deps.publisher.busHealthy());
    this.sessions = new SessionTokens(deps, tokens);
  }

  /** Creates the user row on first sight of a token's subject. */
  async ensureUser(principal: Principal): Promise<void> {
    if (this.knownUsers.has(principal.userId)) return;
    await insertUserIfMissing(this.deps.db, principal.userId, principal.name, principal.nameClaim);
    if (this.knownUsers.size > 100_000) this.knownUsers.clear();
    this.knownUsers.add(principal.userId);
  }

  /**
   * Creates the account. With `join` (a sign-up through an invite, docs/protocol.md §2), the
   * account is inserted inside the join's own transaction: it exists only if its join (or join
   * request) was stored too, and the join's outcome comes back as `invite`.
   */
  async signUp<J>(
    input: { username: string; password: string; name?: string | undefined } & Omit<SessionStart, 'method'>,
    join?: (userId: string, createAccount: (tx: Tx) => Promise<void>) => Promise<J>,
  ): Promise<SignedIn & { invite?: J }> {
    const userId = newId('u');
    const name = input.name ?? input.username;
    const account = { userId, name, username: input.username, passwordHash: await this.passwords.hash(input.password) };
    const { codes: recoveryCodes, hashes } = this.recovery.newCodes(userId);
    const createAccount = async (db: Queryable) => {
      if (!(await insertAccount(db, account))) throw conflict('username is taken');
      await replaceRecoveryCodes(db, userId, hashes);
    };
    const invite = join ? await join(userId, createAccount) : await createAccount(this.deps.db);
    const started = await this.startSession(
      { id: userId, name },
      { method: 'password', deviceName: input.deviceName, refresh: input.refresh },
    );
    const signedIn = { ...started, device: this.deviceToken(input.username), recoveryCodes };
    return join ? { ...signedIn, invite: invite as J } : signedIn;
  }

  /**
   * The id of a trusted-device token given at an earlier sign-in to this username, or undefined
   * for anything else (made up, altered, another username's). docs/protocol.md §2.
   */
  trustedDevice(username: string, device: string | undefined): string | undefined {
    const [id, mac, extra] = (device ?? '').split('.');
    if (!id || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.deviceMac(username, id));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
  }

  /** A token for a device that has just signed in: `<id>.<mac>`, the MAC binding it to the username. */
  private deviceToken(username: string, id = randomBytes(16).toString('base64url')): string {
    return `${id}.${this.deviceMac(username, id)}`;
  }

  private deviceMac(username: string, id: string): string {
    return this.tokens.mac(`banyan device v1|${username}|${id}`);
  }

  /** Signs in; a device token already valid for this username is handed back as it was. */
  async signIn(
    input: { username: string; password: string; device?: string | undefined } & Omit<SessionStart, 'method'>,
  ): Promise<SignedIn> {
    const account = await findAccount(this.deps.db, input.username);
    const { ok, stale } = await this.passwords.verify(input.password, account?.passwordHash ?? undefined);
    if (!account || !ok) throw new AppError('unauthorized', 'wrong username or password');
    // A hash made at an older, cheaper cost is replaced now that the password is known.
    if (stale) await updatePasswordHash(this.deps.db, account.userId, await this.passwords.hash(input.password));
    const device = this.trustedDevice(input.username, input.device);
    const started = await this.startSession(
      { id: account.userId, name: account.name },
      { method: 'password', deviceName: input.deviceName, refresh: input.refresh },
    );
    return { ...started, device: this.deviceToken(input.username, device) };
  }

  /** The account's username, so that password checks are limited like sign-ins; undefined without a local account. */
  async usernameOf(userId: string): Promise<string | undefined> {
    return (await findAccountOfUser(this.deps.db, userId))?.username;
  }

  /**
   * Sets a new password after checking the current one, and revokes every other session of the
   * user: their sockets, on every replica, close with 4403. The calling session stays.
   */
  async changePassword(principal: Principal, input: { currentPassword?: string | undefined; newPassword: string }): Promise<void> {
    const account = await findAccountOfUser(this.deps.db, principal.userId);
    if (!account) throw new AppError('bad_request', 'this user has no local account');
    if (input.currentPassword === undefined) {
      // Recovery (docs/protocol.md §2): just signed in another way, the member sets a new password.
      const session = principal.sessionId ? await findSessionStart(this.deps.db, principal.userId, principal.sessionId) : undefined;
      if (!mayChangePasswordWithoutCurrent(session, nowOf(this.deps))) throw new AppError('forbidden', 'currentPassword required');
    } else {
      const { ok } = await this.passwords.verify(input.currentPassword, account.passwordHash ?? undefined);
      if (!ok) throw new AppError('forbidden', 'wrong current password');
    }
    const passwordHash = await this.passwords.hash(input.newPassword);
    await transaction(this.deps.db, async (tx) => {
      await updatePasswordHash(tx, principal.userId, passwordHash);
      await revokeUserSessions(tx, principal.userId, principal.sessionId ?? undefined);
    });
    await this.revokedAll(principal.userId, principal.sessionId ?? undefined);
  }

  /**
   * Checks the password of the user's local account: `none` when it has none (no account, or one
   * that signs in another way), else whether it is right. For confirmations (erasure, docs/protocol.md §2).
   */
  async checkPassword(userId: string, password: string | undefined): Promise<'none' | 'ok' | 'wrong'> {
    const account = await findAccountOfUser(this.deps.db, userId);
    if (!account?.passwordHash) return 'none';
    if (password === undefined) return 'wrong';
    return (await this.passwords.verify(password, account.passwordHash)).ok ? 'ok' : 'wrong';
  }

  /** Whether the user's local account has a password. */
  async hasPassword(userId: string): Promise<boolean> {
    return Boolean((await findAccountOfUser(this.deps.db, userId))?.passwordHash);
  }

  /** Tells every replica that the user's sessions (but `except`) were revoked in storage: their sockets close with 4403. */
  endedSessions(userId: string, except: string | undefined): Promise<void> {
    return this.revokedAll(userId, except);
  }

  /** The principal of a request's `Authorization` header, for a public route that an operator may call too. */
  async bearer(authorization: string): Promise<Principal> {
    const token = /^Bearer (\S+)$/i.exec(authorization)?.[1];
    if (!token) throw new AppError('unauthorized', 'missing bearer token');
    const principal = await this.tokens.verify(token);
    if (await this.isRevoked(principal)) throw new AppError('unauthorized', 'session revoked');
    return principal;
  }

  /** Signs out everywhere: every session of the user is revoked, the caller's included. */
  async signOutEverywhere(principal: Principal): Promise<void> {
    await revokeUserSessions(this.deps.db, principal.userId);
    // An external token's session has no row until it is revoked.
    if (principal.sessionId)
      await revokeSession(this.deps.db, { id: principal.sessionId, userId: principal.userId, expiresAt: principal.expiresAt });
    await this.revokedAll(principal.userId, undefined);
  }

  private revokedAll(userId: string, except: string | undefined): Promise<void> {
    return publishCommitted(this.deps, {
      controls: [{ userId, message: { kind: 'revoke_all', ...(except === undefined ? {} : { except }) } }],
    });
  }

  /** Revokes the token's session; its sockets on every replica close with 4403. */
  async signOut(principal: Principal): Promise<void> {
    if (!principal.sessionId) throw new AppError('bad_request', 'this token has no session to end');
    await revokeSession(this.deps.db, { id: principal.sessionId, userId: principal.userId, expiresAt: principal.expiresAt });
    await publishCommitted(this.deps, {
      controls: [{ userId: principal.userId, message: { kind: 'revoke', sessionId: principal.sessionId } }],
    });
  }

  /** True when the token names a session that was revoked or has expired. */
  async isRevoked(principal: Principal): Promise<boolean> {
    return principal.sessionId ? this.revoked.isRevoked(principal.userId, principal.sessionId) : false;
  }

  /** `isRevoked` from memory; undefined when storage must answer. */
  isRevokedNow(principal: Principal): boolean | undefined {
    return principal.sessionId ? this.revoked.isRevokedNow(principal.userId, principal.sessionId) : false;
  }

  /** Starts a session for a user who has just proven who they are, whichever way (`start.method`). */
  async startSession(user: { id: string; name: string }, start: SessionStart): Promise<Omit<SignedIn, 'device'>> {
    const sessionId = newId('s');
    const refresh = start.refresh === true;
    const ttl = this.sessions.accessTtl(refresh);
    const { token, expiresAt } = await this.tokens.sign({ userId: user.id, name: user.name, sessionId, ttlSeconds: ttl });
    // Without `refresh`, exactly as before: one token lasting TOKEN_TTL_S (older clients).
    const first = refresh ? this.sessions.first(sessionId) : undefined;
    await insertSession(this.deps.db, {
      id: sessionId,
      userId: user.id,
      expiresAt,
      method: start.method,
      deviceName: start.deviceName ?? null,
      ...first?.row,
    });
    return { user, token, expiresAt: expiresAt.toISOString(), ...first?.answer };
  }
}
