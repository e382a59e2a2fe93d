import type { Principal } from '../auth/tokens.js';
import { findVisibleProfile, profileAudience, startProfile, type Profile } from '../db/profiles.js';
import type { Presence } from '../notify/presence.js';
import { notFound } from '../protocol/errors.js';
import { userFrame } from '../protocol/frames.js';
import type { ProfileView } from '../protocol/server-frames.js';
import type { ChatDeps } from './deps.js';
import { publishCommitted } from './outbox.js';

const view = (p: Profile): ProfileView => ({ id: p.id, name: p.name, avatar: p.avatar });

/**
 * Profiles as others see them (PROTOCOL.md §8): names are looked up where they are shown, never
 * copied into events, so a change shows everywhere at once; live `user` frames tell the sockets
 * of those who may see it.
 */
export class Profiles {
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
  async startSession(principal: Principal): Promise<{ id: string; name: string }> {
    const { name, renamed } = await startProfile(this.deps.db, {
      id: principal.userId,
      name: principal.name,
      nameClaim: principal.nameClaim,
    });
    if (renamed) {
      const profile = await findVisibleProfile(this.deps.db, principal.userId, principal.userId);
      if (profile) await this.announce(profile);
    }
    return { id: principal.userId, name };
  }

  /**
   * Sends a changed profile as a `user` frame to the user's own sockets and to the connected users
   * who may see it (not through announcement groups to plain members; not to users they blocked).
   * O(users sharing a visible group) once per change, and only those connected get a bus message.
   */
  async announce(profile: Profile): Promise<void> {
    const audience = await profileAudience(this.deps.db, profile.id);
    const connected = await this.presence.connectedAmong(audience);
    const data = userFrame(view(profile));
    await publishCommitted(this.deps, {
      controls: [profile.id, ...connected].map((userId) => ({ userId, message: { kind: 'frame', data } as const })),
    });
  }
}
