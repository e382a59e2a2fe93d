import type { Queryable } from '../db/connect.js';
import { findMembership, type Membership } from '../../features/groups/queries.js';
import { forbidden, notFound } from '../../protocol/errors.js';

// Authorization rules. A group the caller is not in does not exist for them (not_found).

export async function requireMember(db: Queryable, groupId: string, userId: string): Promise<Membership> {
  const membership = await findMembership(db, groupId, userId);
  if (!membership) throw notFound('group');
  return membership;
}

export const isAdmin = (m: Pick<Membership, 'role'>) => m.role === 'owner' || m.role === 'admin';

export async function requireAdmin(db: Queryable, groupId: string, userId: string): Promise<Membership> {
  const membership = await requireMember(db, groupId, userId);
  if (!isAdmin(membership)) throw forbidden('only group admins may do this');
  return membership;
}

/** Announcement groups (and groups set to adminsOnlyPost) take posts from admins only. */
export function assertMayPost(m: Pick<Membership, 'role' | 'kind' | 'settings'>): void {
  const adminsOnly = m.settings.adminsOnlyPost ?? m.kind === 'announcement';
  if (adminsOnly && !isAdmin(m)) throw forbidden('only admins may post in this group');
}
