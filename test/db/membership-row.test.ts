import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMembershipRow } from '../../src/features/sessions/index.js';
import { groups, members, mutes, users } from '../../src/platform/db/schema.js';
import { type TestStorage, testStorages } from '../helpers/test-storages.js';

// The statement behind the membership cache (test/unit/membership-cache.test.ts tests the cache over a loader).
describe.each(testStorages())('findMembershipRow on $name', ({ open }) => {
  let t: TestStorage;
  beforeAll(async () => {
    t = await open();
    await t.db.insert(users).values(['u1', 'u2', 'u3'].map((id) => ({ id, name: id })));
    await t.db.insert(groups).values({ id: 'g1', kind: 'group', name: 'g1', createdBy: 'u1', settings: { onlyAdminsPost: true } });
    await t.db.insert(members).values([
      { groupId: 'g1', userId: 'u1', role: 'owner' },
      { groupId: 'g1', userId: 'u2', role: 'member' },
    ]);
    await t.db.insert(mutes).values({ groupId: 'g1', userId: 'u2', until: new Date('2030-01-01T00:00:00Z'), mutedBy: 'u1' });
  }, 120_000);
  afterAll(() => t?.close());

  it('reads a member’s role, the group’s kind and settings, and their mute', async () => {
    expect(await findMembershipRow(t.db, 'g1', 'u1')).toMatchObject({
      role: 'owner',
      kind: 'group',
      communityId: null,
      settings: { onlyAdminsPost: true },
      mutedUntil: null,
    });
    expect((await findMembershipRow(t.db, 'g1', 'u2'))?.mutedUntil).toEqual(new Date('2030-01-01T00:00:00Z'));
  });

  it('finds nothing for someone not in the group, or a group that does not exist', async () => {
    expect(await findMembershipRow(t.db, 'g1', 'u3')).toBeUndefined();
    expect(await findMembershipRow(t.db, 'no-such-group', 'u1')).toBeUndefined();
  });
});
