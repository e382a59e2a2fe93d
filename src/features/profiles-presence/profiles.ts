import type { Principal } from '../../platform/auth/tokens.js';
import { findVisibleProfile, profileAudience, startProfile, type Profile } from './queries.js';
import type { Presence } from './presence-store.js';
import { notFound } from '../../protocol/errors.js';
import { userFrame } from '../../protocol/frames.js';
import type { ProfileView } from '../../protocol/server-frames.js';
import type { ChatDeps } from '../../platform/deps.js';
import { publishCommitted } from '../../platform/db/outbox.js';

/** A user as a session start reads them (session-starts.ts). */
export interface StoredProfile {
  name: string;
  claimedName: string | null;
  account: string | null;
}

const view = (p: Profile): ProfileView => ({ id: p.id, name: p.name, avatar: p.avatar });

/**
 * At most one `user` broadcast per user per this interval (per replica); later changes go out
 * together at its end. A change costs O(users who see the profile), which for a community's
 * admin is the whole community: renaming in a loop must not become a flood.
 */
export const PROFILE_ANNOUNCE_INTERVAL_MS = 5000;

/**
 * Profiles as others see them (docs/protocol.md §8 "Files (attachments)"): names are looked up where they are shown, never
 * copied into events, so a change shows everywhere at once; live `user` frames tell the sockets
 * of those who may see it.
 */
export class Profiles {
  /** Users announced within the interval; a user here with `deferred` has a later broadcast due. */
  private readonly recent = new Map<string, { deferred: boolean }>();

  constructor(
    private readonly deps: ChatDeps,
    private readonly presence: Pick<Presence, 'connectedAmong'>,
  ) {}

  /** A user who shares a visible group with the viewer (or the viewer); not_found otherwise, as for an unknown id. */
  async get(viewerId: string, userId: string): Promise<ProfileView> {
    const profile = await findVisibleProfile(this.deps.db, viewerId, userId);
    if (!profile) throw notFound('user');
    return view(profile);
  }

  /**
   * A session starts: the user's current name for `ready`, the user created on first sight, and an
   * external identity service's changed `name` claim taken (and announced).
   */
  async startSession(principal: Principal, stored: StoredProfile | undefined): Promise<{ id: string; name: string }> {
    const { name, renamed } = await startProfile(
      this.deps.db,
      { id: principal.userId, name: principal.name, nameClaim: principal.nameClaim },
      stored,
    );
    if (renamed) await this.changed(principal.userId);
    return { id: principal.userId, name };
  }

  /**
   * The user's profile changed: sent now, or, within PROFILE_ANNOUNCE_INTERVAL_MS of the last
   * broadcast, once at the interval's end as it then stands.
   */
  async changed(userId: string): Promise<void> {
    const recent = this.recent.get(userId);
    if (recent) {
      recent.deferred = true;
      return;
    }
    this.recent.set(userId, { deferred: false });
    const timer = setTimeout(() => {
      const due = this.recent.get(userId)?.deferred;
      this.recent.delete(userId);
      if (due) void this.changed(userId).catch((err: unknown) => this.deps.logger.warn('profile change not sent', { userId, err }));
    }, PROFILE_ANNOUNCE_INTERVAL_MS);
    timer.unref();
    await this.announce(userId);
  }

  /**
   * Sends the profile as a `user` frame to the user's own sockets and to the connected users who
   * may see it (not through announcement groups to plain members; not to users they blocked).
   * O(users sharing a visible group), and only those connected get a bus message.
   */
  private async announce(userId: string): Promise<void> {
    const profile = await findVisibleProfile(this.deps.db, userId, userId);
    if (!profile) return;
    const audience = await profileAudience(this.deps.db, profile.id);
    const connected = await this.presence.connectedAmong(audience);
    const data = userFrame(view(profile));
    await publishCommitted(this.deps, {
      controls: [profile.id, ...connected].map((userId) => ({ userId, message: { kind: 'frame', data } as const })),
    });
  }
}
