import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatDeps } from '../../src/platform/deps.js';
import { Groups } from '../../src/features/groups/groups.js';
import { MembershipCache } from '../../src/features/groups/membership-cache.js';
import { Messages } from '../../src/features/messages/messages.js';
import { events, groups, users } from '../../src/platform/db/schema.js';
import { findMembershipRow } from '../../src/features/sessions/index.js';
import type { ControlMessage } from '../../src/delivery/control.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { createMetrics } from '../../src/platform/obs/metrics.js';
import { AppError } from '../../src/protocol/errors.js';
import { FakeBus, silentLogger, testChatConfig } from '../helpers/fakes.js';
import { openTestDb, type TestDb } from '../helpers/pglite.js';
import { range } from '../helpers/users.js';

// What sync and group creation cost in statements: bounded, whatever the count of groups or members.
// On PGlite only: statements are counted through its client (test/helpers/pglite.ts).

describe('cost-bounded commands', () => {
  let t: TestDb;
  let deps: ChatDeps;
  let chatGroups: Groups;
  let messages: Messages;
  const controls: { userId: string; message: ControlMessage }[] = [];

  beforeAll(async () => {
    t = await openTestDb();
    const publisher = new Publisher(new FakeBus());
    vi.spyOn(publisher, 'control').mockImplementation(async (userId, message) => {
      controls.push({ userId, message });
    });
    deps = { db: t.db, reads: t.db, publisher, logger: silentLogger, metrics: createMetrics(), config: testChatConfig };
    chatGroups = new Groups(deps);
    messages = new Messages(deps, new MembershipCache((groupId, userId) => findMembershipRow(t.db, groupId, userId)));
  }, 120_000);
  afterAll(() => t?.close());

  let userCount = 0;
  const seedUsers = async (count: number) => {
    const ids = Array.from({ length: count }, () => `cb-u${userCount++}`);
    await t.db.insert(users).values(ids.map((id) => ({ id, name: id })));
    return ids;
  };

  /** Statements sent while `run` ran, in transactions too. */
  const statementsOf = async <T>(run: () => Promise<T>): Promise<{ value: T; statements: number }> => {
    const before = t.statements;
    const value = await run();
    return { value, statements: t.statements - before };
  };

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => (err instanceof AppError ? err.code : err),
    );

  it('sync over 1000 groups the caller is not in: not_found after ONE membership query', async () => {
    const [user] = await seedUsers(1);
    const listed = Object.fromEntries(range(1, 1000).map((i) => [`made-up-${i}`, 0]));
    const { value, statements } = await statementsOf(() => refusal(messages.sync(user!, listed)));
    expect(value).toBe('not_found');
    expect(statements).toBe(1);
  });

  it('sync with one group of many the caller is not in: not_found after ONE query, no event read', async () => {
    const [owner] = await seedUsers(1);
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await chatGroups.create(owner!, { name: `g${i}` })).group.id);
    const listed = Object.fromEntries([...mine.map((id) => [id, 0]), ['not-mine', 0]]);
    const { value, statements } = await statementsOf(() => refusal(messages.sync(owner!, listed)));
    expect(value).toBe('not_found');
    expect(statements).toBe(1);
  });

  it('sync of many groups costs two statements: the membership query and one read', async () => {
    const [owner] = await seedUsers(1);
    const mine: string[] = [];
    for (let i = 0; i < 20; i++) mine.push((await chatGroups.create(owner!, { name: `s${i}` })).group.id);
    const { value, statements } = await statementsOf(() => messages.sync(owner!, Object.fromEntries(mine.map((id) => [id, 0]))));
    expect(statements).toBe(2);
    for (const id of mine) {
      expect(value[id]!.hasMore).toBe(false);
      expect(value[id]!.events.map((e) => JSON.parse(e).seq)).toEqual([1]);
    }
  });

  it('creating a group with 256 members: the same bounded statements as with 2, same events and notices', async () => {
    const [owner, ...others] = await seedUsers(257);
    const small = await statementsOf(() => chatGroups.create(owner!, { name: 'small', members: others.slice(0, 2) }));
    controls.length = 0;
    const large = await statementsOf(() => chatGroups.create(owner!, { name: 'large', members: others }));
    expect(large.statements).toBe(small.statements);
    // 19 since the join check and the invitations' statements run on every path, members or not.
    expect(large.statements).toBeLessThanOrEqual(19);

    const groupId = large.value.group.id;
    expect(large.value.group.memberCount).toBe(257);
    const [stored] = await t.db.select().from(groups).where(eq(groups.id, groupId));
    expect(stored!.memberCount).toBe(257);
    expect(stored!.lastSeq).toBe(257);
    const log = await t.db.select().from(events).where(eq(events.groupId, groupId)).orderBy(asc(events.seq));
    expect(log.map((e) => e.seq)).toEqual(range(1, 257));
    expect(log[0]!.data).toEqual({ member: owner, action: 'joined', role: 'owner' });
    // One `added` event per member, in the order they were listed.
    expect(log.slice(1).map((e) => e.data)).toEqual(others.map((member) => ({ member, action: 'added', role: 'member' })));
    expect(controls.map((c) => c.userId)).toEqual([owner, ...others]);
    expect(controls.every((c) => c.message.kind === 'group_added' && c.message.group === groupId)).toBe(true);
  });

  it('creating a group with an unknown member: created, the unknown id listed as invited like anyone not added (no enumeration)', async () => {
    const [owner, other] = await seedUsers(2);
    controls.length = 0;
    const created = await chatGroups.create(owner!, { name: 'x', members: [other!, 'cb-nobody'] });
    expect(created.invited).toEqual(['cb-nobody']);
    expect(created.group.memberCount).toBe(2);
    expect(controls.map((c) => c.userId)).toEqual([owner, other]);
  });
});
