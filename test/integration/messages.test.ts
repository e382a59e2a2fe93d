import { and, eq, like, or } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events as eventsTable } from '../../src/platform/db/schema.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { range, sleep, tokenUsers } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §4 commands beyond send: edit, delete, react, read markers, receipts, history, typing.

describe.each(storageModes())('messages (%s)', (mode) => {
  let server: TestServer;
  let owner: TestUser, alice: TestUser, bob: TestUser;
  let group: string;
  let o: TestSocket, a: TestSocket, b: TestSocket;
  const sockets: TestSocket[] = [];
  const open = async (u: TestUser) => {
    const s = await connect(server.wsUrl, u.token);
    sockets.push(s);
    return s;
  };
  const send = async (s: TestSocket, text: string) => {
    const ack = await s.request({ type: 'send', group, clientMsgId: `c-${Math.random()}`, text });
    expect(ack.type).toBe('ack');
    return ack.seq as number;
  };
  const lastSeq = async () => (await server.http('GET', `/v1/groups/${group}`, { token: owner.token })).body.group.lastSeq as number;
  const history = async (query = '') => (await server.http('GET', `/v1/groups/${group}/messages${query}`, { token: bob.token })).body;

  beforeAll(async () => {
    server = await startServer({ mode });
    [owner, alice, bob] = (await tokenUsers(server, 3, 'msg')) as [TestUser, TestUser, TestUser];
    group = await createGroup(server, owner, [alice, bob]);
    [o, a, b] = await Promise.all([open(owner), open(alice), open(bob)]);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });

  it('edit: only the sender; appends an edit event; history shows the new text and editedAt', async () => {
    const target = await send(a, 'first draft');
    expect(await b.request({ type: 'edit', group, target, text: 'hijacked' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await o.request({ type: 'edit', group, target, text: 'even the owner may not' })).toMatchObject({
      type: 'error',
      code: 'forbidden',
    });
    const ack = await a.request({ type: 'edit', group, target, text: '  final  ' });
    expect(ack).toMatchObject({ type: 'ack', group, seq: target + 1 });
    const event = await b.next((f) => f.type === 'event' && f.seq === ack.seq);
    expect(event).toEqual({ type: 'event', group, seq: ack.seq, ts: ack.ts, sender: alice.id, kind: 'edit', target, text: 'final' });
    const [message] = (await history(`?before=${target + 1}&limit=1`)).messages;
    expect(message).toMatchObject({ seq: target, text: 'final', editedAt: ack.ts, deleted: false, sender: alice.id });
    // Not a message, or no such seq.
    expect(await a.request({ type: 'edit', group, target: ack.seq, text: 'x' })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await a.request({ type: 'edit', group, target: 10_000, text: 'x' })).toMatchObject({ type: 'error', code: 'not_found' });
  });

  it('delete: the sender or a group admin, not another member; erases the text from storage', async () => {
    const mine = await send(a, 'regrettable');
    const edited = await a.request({ type: 'edit', group, target: mine, text: 'more regrettable' });
    const other = await send(a, 'also gone soon');
    expect(await b.request({ type: 'delete', group, target: mine })).toMatchObject({ type: 'error', code: 'forbidden' });
    const bySender = await a.request({ type: 'delete', group, target: mine });
    expect(bySender).toMatchObject({ type: 'ack', group });
    const byAdmin = await o.request({ type: 'delete', group, target: other });
    expect(byAdmin).toMatchObject({ type: 'ack', group });
    expect(await b.next((f) => f.type === 'event' && f.seq === byAdmin.seq)).toMatchObject({
      kind: 'delete',
      target: other,
      sender: owner.id,
    });
    expect(await a.request({ type: 'delete', group, target: mine })).toMatchObject({ type: 'error', code: 'conflict' });
    expect(await a.request({ type: 'react', group, target: mine, emoji: '👍' })).toMatchObject({ type: 'error', code: 'conflict' });
    expect(await a.request({ type: 'edit', group, target: mine, text: 'undo' })).toMatchObject({ type: 'error', code: 'conflict' });

    const page = await history(`?before=${other + 1}&limit=10`);
    const bySeq = new Map(page.messages.map((m: Frame) => [m.seq, m]));
    expect(bySeq.get(mine)).toMatchObject({ text: null, deleted: true });
    expect(bySeq.get(other)).toMatchObject({ text: null, deleted: true });
    // sync replays the log: the message and its edit carry no text any more.
    const synced = await b.request({ type: 'sync', groups: { [group]: mine - 1 } });
    const events = new Map(synced.groups[group].events.map((e: Frame) => [e.seq, e]));
    expect(events.get(mine)).toMatchObject({ kind: 'message', text: null, deleted: true });
    expect(events.get(edited.seq)).toMatchObject({ kind: 'edit', target: mine, text: null });
    expect(events.get(bySender.seq)).toEqual({
      type: 'event',
      group,
      seq: bySender.seq,
      ts: bySender.ts,
      sender: alice.id,
      kind: 'delete',
      target: mine,
    });
    // And storage itself holds no trace of the words.
    const leftovers = await server.app.storage.db
      .select({ seq: eventsTable.seq })
      .from(eventsTable)
      .where(and(eq(eventsTable.groupId, group), or(like(eventsTable.text, '%regrettable%'), like(eventsTable.text, '%gone soon%'))));
    expect(leftovers).toEqual([]);
  });

  it('react: one per user, changing replaces, null removes; history counts them', async () => {
    const target = await send(o, 'react to me');
    const r1 = await a.request({ type: 'react', group, target, emoji: '👍' });
    const r2 = await b.request({ type: 'react', group, target, emoji: '👍' });
    const r3 = await o.request({ type: 'react', group, target, emoji: '🎉' });
    expect([r1, r2, r3].map((r) => r.seq)).toEqual([target + 1, target + 2, target + 3]);
    expect(await b.next((f) => f.type === 'event' && f.seq === r3.seq)).toMatchObject({
      kind: 'reaction',
      target,
      emoji: '🎉',
      sender: owner.id,
    });
    const countsOf = async () => (await history(`?before=${target + 1}&limit=1`)).messages[0].reactions;
    expect(await countsOf()).toEqual({ '👍': 2, '🎉': 1 });
    // The same again changes nothing and appends nothing.
    const same = await a.request({ type: 'react', group, target, emoji: '👍' });
    expect(same).toEqual({ type: 'ack', re: same.re, group });
    const changed = await a.request({ type: 'react', group, target, emoji: '🎉' });
    expect(changed.seq).toBe(r3.seq + 1);
    expect(await countsOf()).toEqual({ '👍': 1, '🎉': 2 });
    const removed = await b.request({ type: 'react', group, target, emoji: null });
    expect(await a.next((f) => f.type === 'event' && f.seq === removed.seq)).toMatchObject({
      kind: 'reaction',
      target,
      emoji: null,
      sender: bob.id,
    });
    expect(await countsOf()).toEqual({ '🎉': 2 });
    const again = await b.request({ type: 'react', group, target, emoji: null });
    expect(again.seq).toBeUndefined();
    expect(await lastSeq()).toBe(removed.seq);
  });

  it('read markers: forward only, never past lastSeq; other sockets of the user hear of it, the sending socket does not', async () => {
    const b2 = await open(bob);
    const top = await send(o, 'read me');
    const forward = await b.request({ type: 'read', group, seq: top - 1 });
    expect(forward).toEqual({ type: 'ack', re: forward.re, group, seq: top - 1 });
    expect(await b2.next((f) => f.type === 'read')).toEqual({ type: 'read', group, seq: top - 1 });
    const back = await b.request({ type: 'read', group, seq: 1 });
    expect(back.seq).toBe(top - 1);
    const past = await b.request({ type: 'read', group, seq: top + 1000 });
    expect(past.seq).toBe(await lastSeq());
    await b2.next((f) => f.type === 'read' && f.seq === past.seq);
    expect(b.frames.filter((f) => f.type === 'read')).toEqual([]);
    expect(a.frames.filter((f) => f.type === 'read')).toEqual([]);
    // A new socket is told where the marker stands.
    const b3 = await open(bob);
    expect(b3.frames[0]!.groups.find((g: Frame) => g.id === group).readSeq).toBe(past.seq);

    // Receipts: who has read up to a seq.
    await a.request({ type: 'read', group, seq: top });
    const receipts = await server.http('GET', `/v1/groups/${group}/messages/${top}/receipts`, { token: owner.token });
    expect(receipts).toEqual({ status: 200, body: { readBy: 2, memberCount: 3 } });
    await o.request({ type: 'read', group, seq: top - 1 });
    expect((await server.http('GET', `/v1/groups/${group}/messages/${top - 1}/receipts`, { token: alice.token })).body).toEqual({
      readBy: 3,
      memberCount: 3,
    });
    expect((await server.http('GET', `/v1/groups/${group}/messages/${top + 1}/receipts`, { token: alice.token })).body).toEqual({
      readBy: 0,
      memberCount: 3,
    });
  });

  it('history: newest first, paged by before/limit with hasMore, messages only', async () => {
    const fresh = await createGroup(server, owner, [bob], 'History');
    const acks = await Promise.all(range(1, 7).map((i) => o.request({ type: 'send', group: fresh, clientMsgId: `h${i}`, text: `m${i}` })));
    const seqs = acks.map((x) => x.seq as number).sort((x, y) => x - y);
    const page1 = await b.request({ type: 'history', group: fresh, limit: 3 });
    expect(page1).toMatchObject({ type: 'history', group: fresh, hasMore: true });
    expect(page1.messages.map((m: Frame) => m.seq)).toEqual(seqs.slice(-3).reverse());
    expect(Object.keys(page1.messages[0]).sort()).toEqual([
      'clientMsgId',
      'deleted',
      'editedAt',
      'mentions',
      'reactions',
      'replyTo',
      'sender',
      'seq',
      'text',
      'ts',
    ]);
    const page2 = await b.request({ type: 'history', group: fresh, limit: 3, before: page1.messages[2].seq });
    expect(page2.messages.map((m: Frame) => m.seq)).toEqual(seqs.slice(1, 4).reverse());
    expect(page2.hasMore).toBe(true);
    const page3 = await b.request({ type: 'history', group: fresh, limit: 3, before: page2.messages[2].seq });
    // The member events (seq 1, 2) are not messages.
    expect(page3).toMatchObject({ hasMore: false });
    expect(page3.messages.map((m: Frame) => m.seq)).toEqual([seqs[0]]);
    const overHttp = await server.http('GET', `/v1/groups/${fresh}/messages?limit=3`, { token: bob.token });
    expect(overHttp.body).toEqual({ messages: page1.messages, hasMore: true });
    const all = await b.request({ type: 'history', group: fresh });
    expect(all.messages).toHaveLength(7);
    expect(all.hasMore).toBe(false);
    expect(await b.request({ type: 'history', group: fresh, limit: 101 })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('typing reaches the other members, not the sending socket, and never touches the log', async () => {
    const before = await lastSeq();
    const a2 = await open(alice);
    a.send({ type: 'typing', id: 'ty1', group });
    const seen = await Promise.all([o, b].map((s) => s.next((f) => f.type === 'typing' && f.user === alice.id)));
    for (const f of seen) expect(f).toEqual({ type: 'typing', group, user: alice.id });
    // The marker after it: everything before it has been delivered.
    const marker = await send(o, 'after typing');
    await a.next((f) => f.type === 'event' && f.seq === marker);
    await a2.next((f) => f.type === 'event' && f.seq === marker);
    expect(a.frames.filter((f) => f.type === 'typing' || f.re === 'ty1')).toEqual([]);
    expect(await lastSeq()).toBe(before + 1);
  });
});

describe.each(storageModes())('edit window (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode, env: { EDIT_WINDOW_S: '1' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('edits within EDIT_WINDOW_S, refuses with conflict after it', async () => {
    const [user] = await tokenUsers(server, 1, 'window');
    const group = await createGroup(server, user!);
    const s = await connect(server.wsUrl, user!.token);
    const early = await s.request({ type: 'send', group, clientMsgId: 'early', text: 'typo' });
    expect(await s.request({ type: 'edit', group, target: early.seq, text: 'fixed' })).toMatchObject({ type: 'ack' });
    // Kept: about time, past EDIT_WINDOW_S (1 s).
    await sleep(1300);
    expect(await s.request({ type: 'edit', group, target: early.seq, text: 'too late' })).toMatchObject({
      type: 'error',
      code: 'conflict',
    });
    // The window runs from the message, not from its last edit; delete has no window.
    expect(await s.request({ type: 'delete', group, target: early.seq })).toMatchObject({ type: 'ack' });
    s.terminate();
  });
});
