import { hashPassword, decoyHash, verifyPassword } from '../auth/password.js';
import type { Principal, Tokens } from '../auth/tokens.js';
import { findAccount, insertAccount, insertSession, insertUserIfMissing, isSessionRevoked, revokeSession } from '../db/users.js';
import { newId } from '../ids.js';
import { AppError, conflict } from '../protocol/errors.js';
import type { ChatDeps } from './deps.js';
import { publishCommitted } from './outbox.js';

export interface SignedIn {
  user: { id: string; name: string };
  token: string;
  expiresAt: string;
}

/** Users, local accounts and sessions. */
export class Accounts {
  /** Users already known to exist, so a reconnect storm does not write per connection. */
  private readonly knownUsers = new Set<string>();

  constructor(
    private readonly deps: ChatDeps,
    private readonly tokens: Tokens,
  ) {}

  /** Creates the user row on first sight of a token's subject. */
  async ensureUser(principal: Principal): Promise<void> {
    if (this.knownUsers.has(principal.userId)) return;
    await insertUserIfMissing(this.deps.db, principal.userId, principal.name);
    if (this.knownUsers.size > 100_000) this.knownUsers.clear();
    this.knownUsers.add(principal.userId);
  }

  async signUp(input: { username: string; password: string; name?: string | undefined }): Promise<SignedIn> {
    const userId = newId('u');
    const name = input.name ?? input.username;
    const created = await insertAccount(this.deps.db, {
      userId,
      name,
      username: input.username,
      passwordHash: await hashPassword(input.password),
    });
    if (!created) throw conflict('username is taken');
    return this.startSession({ id: userId, name });
  }

  async signIn(input: { username: string; password: string }): Promise<SignedIn> {
    const account = await findAccount(this.deps.db, input.username);
    // Hash even for unknown usernames, so timing does not tell which usernames exist.
    const ok = await verifyPassword(input.password, account?.passwordHash ?? (await decoyHash));
    if (!account || !ok) throw new AppError('unauthorized', 'wrong username or password');
    return this.startSession({ id: account.userId, name: account.name });
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
    return principal.sessionId ? isSessionRevoked(this.deps.db, { id: principal.sessionId, userId: principal.userId }) : false;
  }

  private async startSession(user: { id: string; name: string }): Promise<SignedIn> {
    const sessionId = newId('s');
    const ttl = this.deps.limits.tokenTtlS;
    const { token, expiresAt } = await this.tokens.sign({ userId: user.id, name: user.name, sessionId, ttlSeconds: ttl });
    await insertSession(this.deps.db, { id: sessionId, userId: user.id, expiresAt });
    return { user, token, expiresAt: expiresAt.toISOString() };
  }
}
