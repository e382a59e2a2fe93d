import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal, Tokens } from '../../platform/auth/tokens.js';
import { nowOf, type ChatDeps } from '../../platform/deps.js';
import { publishCommitted } from '../../platform/db/outbox.js';
import { AppError, notFound } from '../../protocol/errors.js';
import { revokeSession } from './queries.js';
import {
  findRefreshSession,
  liveSessionsOf,
  revokeLiveSession,
  rotateRefresh,
  touchRefresh,
  touchSession,
  userName,
} from './session-queries.js';

// docs/protocol.md §2 "Sessions and refresh tokens": a short access token and a refresh token
// `<sessionId>.<generation>.<secret>`, rotated on each use. Only the SHA-256 of the current
// secret is stored. Each next secret is an HMAC of the one before under the server's key, so a
// token's successors can be recomputed: a retry with the token just replaced (its answer lost)
// gets the same new refresh token back within REFRESH_GRACE_S, and an older token is recognised
// as genuine (a replay: the session ends) rather than made up (only refused).

/** What a refreshed session answers: `signedIn` without the trusted-device token. */
export interface RefreshedSession {
  user: { id: string; name: string };
  token: string;
  expiresAt: string;
  refreshToken: string;
  refreshExpiresAt: string;
}

/** The one answer to every refresh that does not work, whatever the reason (no oracle). */
const refused = () => new AppError('unauthorized', 'refresh token not valid');

/** Further back than this many rotations, a token is not traced (refused, the session kept). */
const MAX_TRACE = 10_000;
/** A socket start marks its session seen at most this often per replica (no write per connect). */
const SEEN_EVERY_MS = 10 * 60_000;
const SEEN_KEPT = 100_000;

const TOKEN_RE = /^(s_[A-Za-z0-9_-]{1,64})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/;

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('base64url');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionTokens {
  /** When this replica last marked each session seen. */
  private readonly seenAt = new Map<string, number>();

  constructor(
    private readonly deps: ChatDeps,
    private readonly tokens: Tokens,
  ) {}

  private get settings() {
    return this.deps.config.auth;
  }

  private now(): Date {
    return new Date(nowOf(this.deps));
  }

  /** The secret after `secret` (generation `generation`) of the session. */
  private next(sessionId: string, generation: number, secret: string): string {
    return this.tokens.mac(`banyan refresh v1|${sessionId}|${generation + 1}|${secret}`).slice(0, 43);
  }

  private refreshExpiry(now: Date): Date {
    return new Date(now.getTime() + this.settings.refreshIdleTtlS * 1000);
  }

  /** The access token lifetime of a session started now: short with a refresh token. */
  accessTtl(refresh: boolean): number {
    return refresh ? this.settings.accessTokenTtlS : this.settings.tokenTtlS;
  }

  /** A new session's first refresh token: the row's columns, and the answer's fields. */
  first(sessionId: string) {
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const refreshExpiresAt = this.refreshExpiry(now);
    return {
      row: { refreshHash: sha256(secret), refreshedAt: now, refreshExpiresAt },
      answer: { refreshToken: `${sessionId}.0.${secret}`, refreshExpiresAt: refreshExpiresAt.toISOString() },
    };
  }

  /**
   * A new access token and the next refresh token. A token already replaced ends its session
   * (every socket of it closes with 4403), except the one replaced last within the grace: that
   * gets the same new refresh token again. Anything else is refused with one answer.
   */
  async refresh(presented: string): Promise<RefreshedSession> {
    const match = TOKEN_RE.exec(presented);
    if (!match) throw refused();
    const id = match[1]!;
    const generation = Number(match[2]);
    const secret = match[3]!;
    const now = this.now();
    const nextSecret = this.next(id, generation, secret);
    const refreshExpiresAt = this.refreshExpiry(now);
    // The access token's expiry, at most (it is signed after, on the wall clock JWTs are checked by).
    const accessTtl = this.settings.accessTokenTtlS;
    const expiresAt = new Date(Date.now() + (accessTtl + 1) * 1000);
    const rotated = await rotateRefresh(this.deps.db, {
      id,
      generation,
      hash: sha256(secret),
      nextHash: sha256(nextSecret),
      now,
      refreshExpiresAt,
      expiresAt,
    });
    if (rotated) return this.answer(rotated.userId, id, `${id}.${generation + 1}.${nextSecret}`, refreshExpiresAt);

    const row = await findRefreshSession(this.deps.db, id);
    if (!row?.refreshHash || row.revokedAt || !row.refreshExpiresAt || row.refreshExpiresAt <= now) throw refused();
    const behind = row.refreshGeneration - generation;
    if (behind < 1 || behind > MAX_TRACE) throw refused();
    let traced = secret;
    for (let g = generation; g < row.refreshGeneration; g++) traced = this.next(id, g, traced);
    // Made up (or another session's): refused, and the session is not touched.
    if (!sameHash(sha256(traced), row.refreshHash)) throw refused();
    const graceMs = this.settings.refreshGraceS * 1000;
    if (behind === 1 && row.refreshedAt && now.getTime() - row.refreshedAt.getTime() <= graceMs) {
      await touchRefresh(this.deps.db, { id, userId: row.userId, now, expiresAt });
      return this.answer(row.userId, id, `${id}.${row.refreshGeneration}.${traced}`, row.refreshExpiresAt);
    }
    // A token already replaced came back: whoever holds the session's tokens, one copy was stolen.
    await this.end(row.userId, id, row.expiresAt);
    this.deps.logger.warn('refresh token reused: session ended', { userId: row.userId, sessionId: id, behind });
    throw refused();
  }

  private async answer(userId: string, sessionId: string, refreshToken: string, refreshExpiresAt: Date): Promise<RefreshedSession> {
    const name = await userName(this.deps.db, userId);
    if (name === undefined) throw refused();
    const ttlSeconds = this.settings.accessTokenTtlS;
    const { token, expiresAt } = await this.tokens.sign({ userId, name, sessionId, ttlSeconds });
    return {
      user: { id: userId, name },
      token,
      expiresAt: expiresAt.toISOString(),
      refreshToken,
      refreshExpiresAt: refreshExpiresAt.toISOString(),
    };
  }

  /** Revokes the session and closes its sockets on every replica (4403). */
  private async end(userId: string, sessionId: string, expiresAt: Date): Promise<void> {
    await revokeSession(this.deps.db, { id: sessionId, userId, expiresAt });
    await publishCommitted(this.deps, { controls: [{ userId, message: { kind: 'revoke', sessionId } }] });
  }

  /** The caller's live sessions, theirs only. `place` is null: no offline address database is installed. */
  async list(principal: Principal) {
    const rows = await liveSessionsOf(this.deps.db, principal.userId, this.now());
    return {
      sessions: rows.map((row) => ({
        id: row.id,
        deviceName: row.deviceName,
        method: row.method,
        createdAt: row.createdAt.toISOString(),
        lastSeenAt: row.lastSeenAt.toISOString(),
        place: null,
        current: row.id === principal.sessionId,
      })),
    };
  }

  /** Ends one of the caller's sessions; another user's or an unknown one is `not_found`, alike. */
  async endOne(principal: Principal, sessionId: string): Promise<void> {
    if (!(await revokeLiveSession(this.deps.db, principal.userId, sessionId, this.now()))) throw notFound('session');
    await publishCommitted(this.deps, { controls: [{ userId: principal.userId, message: { kind: 'revoke', sessionId } }] });
  }

  /** A socket started with the session's token: marks it seen, at most once per SEEN_EVERY_MS here. */
  seen(principal: Principal): void {
    const sessionId = principal.sessionId;
    if (!sessionId || principal.scope !== 'user') return;
    const now = nowOf(this.deps);
    const last = this.seenAt.get(sessionId);
    if (last !== undefined && now - last < SEEN_EVERY_MS) return;
    if (this.seenAt.size >= SEEN_KEPT) this.seenAt.clear();
    this.seenAt.set(sessionId, now);
    // Another replica (or this one before a restart) may have written it lately: then nothing is written.
    const since = new Date(now - SEEN_EVERY_MS);
    touchSession(this.deps.db, { id: sessionId, userId: principal.userId, now: new Date(now), since }).catch((err: unknown) =>
      this.deps.logger.warn('could not mark a session seen', { err }),
    );
  }
}
