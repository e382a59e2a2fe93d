import { asc, eq } from 'drizzle-orm';
import type { Queryable } from './connect.js';
import { communities, members } from './schema.js';

/** The communities a user belongs to: those whose announcement group has them as a member. */
export async function listUserCommunities(db: Queryable, userId: string) {
  return db
    .select({ id: communities.id, name: communities.name, role: members.role })
    .from(members)
    .innerJoin(communities, eq(communities.announcementGroupId, members.groupId))
    .where(eq(members.userId, userId))
    .orderBy(asc(communities.id));
}
