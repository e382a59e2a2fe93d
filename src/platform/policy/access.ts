import type { GroupRow, Role } from '../db/schema.js';
import { AppError, badRequest, forbidden, notFound } from '../../protocol/errors.js';

// Membership decisions: pure functions over what a membership row says (docs/protocol.md §8
// "Moderation"). The features load the row (the membership cache on the hot path, else the query)
// and ask here. A group the caller is not in does not exist for them (not_found).

export type GroupKind = GroupRow['kind'];

/** What a decision needs of a membership: its role. */
export interface RoleFact {
  role: Role;
}

/** What posting decisions need of a membership and its group. */
export interface PostingFacts extends RoleFact {
  kind: GroupKind;
  settings: { adminsOnlyPost?: boolean | undefined };
}

export const isAdmin = (m: RoleFact | undefined): boolean => m !== undefined && (m.role === 'owner' || m.role === 'admin');

export const isOwner = (m: RoleFact | undefined): boolean => m !== undefined && m.role === 'owner';

/** The caller's membership, or not_found. */
export function requireMembership<M>(membership: M | undefined): M {
  if (!membership) throw notFound('group');
  return membership;
}

/** An owner or admin of the group: not_found for outsiders, forbidden for plain members. */
export function requireGroupAdmin<M extends RoleFact>(membership: M | undefined): M {
  const m = requireMembership(membership);
  if (!isAdmin(m)) throw forbidden('only group admins may do this');
  return m;
}

/** Announcement groups (and groups set to adminsOnlyPost) take posts from admins only. */
export function mayPost(m: PostingFacts): boolean {
  const adminsOnly = m.settings.adminsOnlyPost ?? m.kind === 'announcement';
  return !adminsOnly || isAdmin(m);
}

export function assertMayPost(m: PostingFacts): void {
  if (!mayPost(m)) throw forbidden('only admins may post in this group');
}

export function isMuted(m: { mutedUntil: Date | null }, now: number): boolean {
  return m.mutedUntil !== null && m.mutedUntil.getTime() > now;
}

/** A muted member may not send, react or type until the mute ends. */
export function assertNotMuted(m: { mutedUntil: Date | null }, now = Date.now()): void {
  if (isMuted(m, now)) {
    throw new AppError('forbidden', 'you are muted in this group', { reason: 'muted', until: m.mutedUntil!.toISOString() });
  }
}

/**
 * Only admins mention members in an announcement group. `bad_request`, not "not a member": that
 * would let a member probe the private roster.
 */
export function assertMayMention(m: PostingFacts, mentions: readonly string[] | undefined): void {
  if (mentions?.length && m.kind === 'announcement' && !isAdmin(m)) {
    throw badRequest('only admins may mention members in an announcement group', {
      issues: [{ path: 'mentions', message: 'not allowed here' }],
    });
  }
}

/** The owner role is neither given by adding nor changed; the target must be a member. */
export function assertRoleChangeable(target: RoleFact | undefined): asserts target is RoleFact {
  if (!target) throw notFound('member');
  if (target.role === 'owner') throw forbidden('the owner role cannot be changed');
}

/** Who becomes owner when the owner leaves: the first admin, else the longest-standing member. */
export function heirOf<M extends RoleFact & { joinedAt: Date }>(members: readonly M[]): M | undefined {
  return members.find((m) => m.role === 'admin') ?? [...members].sort((a, b) => +a.joinedAt - +b.joinedAt)[0];
}
