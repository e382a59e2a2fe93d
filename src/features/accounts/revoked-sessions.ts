import type { Db } from '../../platform/db/connect.js';
import { revokedSessions, sessionRevoked } from '../sessions/index.js';
import type { Logger } from '../../platform/obs/logger.js';
import type { Job } from '../../platform/jobs/job.js';

/** Past this many revoked, unexpired sessions, lookups go to storage (memory stays bounded). */
const MAX_ENTRIES = 1_000_000;
const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Revoked sessions that tokens may still name, in memory, so an authenticated request or session
 * start costs no query. Exact: every revocation is published after its commit on a topic every
 * replica hears (publishCommitted), and a user heard of is read again from storage, all their
 * revoked sessions at once (invalidated, never patched), with lookups of that user going to storage
 * until the read is back. Storage answers too before the first full read, while the bus is down,
 * and after it lost messages (then everything is read again).
 */
export class RevokedSessions {
  private byUser = new Map<string, Map<string, number>>();
  private size = 0;
  private loaded = false;
  /** Users heard of whose read is under way (count of reads): storage answers for them. */
  private readonly reading = new Map<string, number>();
  /** Users heard of since the full read under way started: that read's rows for them are older. */
  private heardDuringFullRead: Set<string> | undefined;
  private fullReads = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    /** Whether the bus delivers now: while it does not, revocations may go unheard. */
    private readonly busHealthy: () => boolean,
  ) {}

  /** Periodic: drops entries of sessions whose tokens expired. */
  pruneJob(): Job {
    return { name: 'accounts.revoked-prune', kind: 'periodic', everyMs: PRUNE_INTERVAL_MS, run: async () => this.prune() };
  }

  async isRevoked(userId: string, sessionId: string): Promise<boolean> {
    return this.isRevokedNow(userId, sessionId) ?? sessionRevoked(this.db, { id: sessionId, userId });
  }

  /** From memory; undefined while storage must answer (not loaded yet, the user being read again, the bus down). */
  isRevokedNow(userId: string, sessionId: string): boolean | undefined {
    if (!this.loaded || this.reading.has(userId) || !this.busHealthy()) return undefined;
    return this.byUser.get(userId)?.has(sessionId) ?? false;
  }

  /**
   * A revocation of the user's sessions was committed (heard on the bus): read theirs again.
   * Resolves with the user's revoked session ids as read (none when the read failed).
   */
  heard(userId: string): Promise<ReadonlySet<string>> {
    this.heardDuringFullRead?.add(userId);
    this.reading.set(userId, (this.reading.get(userId) ?? 0) + 1);
    return revokedSessions(this.db, [userId])
      .then(
        (rows) => {
          this.replaceUser(userId, rows);
          return new Set(rows.map((row) => row.id));
        },
        (err: unknown) => {
          // Storage keeps answering for this user until a full read succeeds.
          this.logger.warn('could not read revoked sessions; asking storage until the next full read', { userId, err });
          this.loaded = false;
          void this.readAll();
          return new Set<string>();
        },
      )
      .finally(() => {
        const left = (this.reading.get(userId) ?? 1) - 1;
        if (left > 0) this.reading.set(userId, left);
        else this.reading.delete(userId);
      });
  }

  /**
   * Reads these users' revoked sessions from storage and keeps them (the users whose sockets a
   * replica holds, re-checked while the bus is down or after it lost messages). Resolves with each
   * user's revoked session ids; rejects when storage does not answer (nothing is changed then).
   */
  async readUsers(userIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    for (const userId of userIds) {
      this.heardDuringFullRead?.add(userId);
      this.reading.set(userId, (this.reading.get(userId) ?? 0) + 1);
    }
    try {
      const rows = await revokedSessions(this.db, [...userIds]);
      const byUser = new Map<string, { id: string; expiresAt: Date }[]>(userIds.map((userId) => [userId, []]));
      for (const row of rows) byUser.get(row.userId)?.push(row);
      const revoked = new Map<string, ReadonlySet<string>>();
      for (const [userId, sessions] of byUser) {
        this.replaceUser(userId, sessions);
        revoked.set(userId, new Set(sessions.map((row) => row.id)));
      }
      return revoked;
    } finally {
      for (const userId of userIds) {
        const left = (this.reading.get(userId) ?? 1) - 1;
        if (left > 0) this.reading.set(userId, left);
        else this.reading.delete(userId);
      }
    }
  }

  /** Reads every revoked session again (at start, and after the bus lost messages); storage answers meanwhile. */
  async readAll(): Promise<void> {
    this.loaded = false;
    const read = ++this.fullReads;
    const heard = new Set<string>();
    this.heardDuringFullRead = heard;
    try {
      const rows = await revokedSessions(this.db);
      if (read !== this.fullReads) return;
      if (rows.length > MAX_ENTRIES) {
        this.logger.warn('too many revoked sessions to keep in memory; asking storage', { count: rows.length });
        return;
      }
      const kept = new Map<string, Map<string, number>>();
      for (const userId of heard) {
        const sessions = this.byUser.get(userId);
        if (sessions) kept.set(userId, sessions);
      }
      this.byUser = kept;
      this.size = [...kept.values()].reduce((n, m) => n + m.size, 0);
      for (const row of rows) if (!heard.has(row.userId)) this.add(row.userId, row.id, row.expiresAt.getTime());
      this.loaded = true;
    } catch (err) {
      if (read === this.fullReads) this.logger.warn('could not read revoked sessions; asking storage', { err });
    } finally {
      if (read === this.fullReads) this.heardDuringFullRead = undefined;
    }
  }

  private replaceUser(userId: string, rows: { id: string; expiresAt: Date }[]): void {
    this.size -= this.byUser.get(userId)?.size ?? 0;
    this.byUser.delete(userId);
    for (const row of rows) this.add(userId, row.id, row.expiresAt.getTime());
    if (this.size > MAX_ENTRIES) this.loaded = false;
  }

  private add(userId: string, sessionId: string, expiresAt: number): void {
    let sessions = this.byUser.get(userId);
    if (!sessions) {
      sessions = new Map();
      this.byUser.set(userId, sessions);
    }
    if (!sessions.has(sessionId)) this.size++;
    sessions.set(sessionId, expiresAt);
  }

  /** A token names a session only until it expires; past that, its entry is dead weight. */
  private prune(): void {
    const now = Date.now();
    for (const [userId, sessions] of this.byUser) {
      for (const [sessionId, expiresAt] of sessions) {
        if (expiresAt <= now) {
          sessions.delete(sessionId);
          this.size--;
        }
      }
      if (sessions.size === 0) this.byUser.delete(userId);
    }
  }
}
