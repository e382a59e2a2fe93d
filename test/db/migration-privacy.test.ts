import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../../src/platform/db/connect.js';
import { events, groups, members, users } from '../../src/platform/db/schema.js';
import { type TestStorage, testStorages } from '../helpers/test-storages.js';

// The data part of migration 0004 (docs/protocol.md §8 "Privacy and safety"), run again over rows shaped as before it:
// direct groups become symmetric; announcement groups' member and reaction events become
// `hidden` places with no sender, their seqs kept; nothing else changes.

const dataStatements = () =>
  readFileSync(join(migrationsFolder, '0004_privacy.sql'), 'utf8')
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => /^(--[^\n]*\n)*UPDATE/.test(s));

describe.each(testStorages())('migration 0004: existing data, on $name', ({ open }) => {
  let t: TestStorage;
  beforeAll(async () => {
    t = await open();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('makes direct groups symmetric and hides announcement-group roster events, keeping seqs', async () => {
    await t.db.insert(users).values([
      { id: 'm-a', name: 'A' },
      { id: 'm-b', name: 'B' },
    ]);
    await t.db.insert(groups).values([
      { id: 'm-ann', kind: 'announcement', name: 'Ann', communityId: 'c', createdBy: 'm-a', lastSeq: 4 },
      { id: 'm-dm', kind: 'direct', name: '', createdBy: 'm-a', directKey: 'k', lastSeq: 2 },
      { id: 'm-grp', kind: 'group', name: 'G', createdBy: 'm-a', lastSeq: 2 },
    ]);
    await t.db.insert(members).values([
      { groupId: 'm-dm', userId: 'm-a', role: 'owner' },
      { groupId: 'm-dm', userId: 'm-b', role: 'member' },
      { groupId: 'm-grp', userId: 'm-a', role: 'owner' },
      { groupId: 'm-grp', userId: 'm-b', role: 'member' },
    ]);
    const member = (groupId: string, seq: number, who: string) => ({
      groupId,
      seq,
      senderId: who,
      kind: 'member' as const,
      data: { member: who, action: 'joined' },
    });
    await t.db
      .insert(events)
      .values([
        member('m-ann', 1, 'm-a'),
        member('m-ann', 2, 'm-b'),
        { groupId: 'm-ann', seq: 3, senderId: 'm-a', kind: 'message', clientMsgId: 'c1', text: 'hello', data: { mentions: [] } },
        { groupId: 'm-ann', seq: 4, senderId: 'm-b', kind: 'reaction', target: 3, data: { emoji: '👍' } },
        member('m-grp', 1, 'm-a'),
        member('m-grp', 2, 'm-b'),
      ]);

    const statements = dataStatements();
    expect(statements).toHaveLength(2);
    for (const s of statements) await t.db.execute(sql.raw(s));

    const roles = await t.db.select().from(members).where(eq(members.groupId, 'm-dm'));
    expect(roles.map((r) => r.role)).toEqual(['member', 'member']);
    expect((await t.db.select().from(members).where(eq(members.groupId, 'm-grp'))).map((r) => r.role).sort()).toEqual(['member', 'owner']);

    const ann = await t.db.select().from(events).where(eq(events.groupId, 'm-ann')).orderBy(asc(events.seq));
    expect(ann.map((e) => [e.seq, e.kind, e.senderId, e.data])).toEqual([
      [1, 'hidden', '', null],
      [2, 'hidden', '', null],
      [3, 'message', 'm-a', { mentions: [] }],
      [4, 'hidden', '', null],
    ]);
    const grp = await t.db.select().from(events).where(eq(events.groupId, 'm-grp')).orderBy(asc(events.seq));
    expect(grp.map((e) => e.kind)).toEqual(['member', 'member']);
  });
});
