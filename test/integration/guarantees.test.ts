import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessages, eventsAfter } from '../../src/features/messages/queries.js';
import { waitUntil } from '../helpers/replicas.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { range, sleep, tokenUsers } from '../helpers/users.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §1, over real sockets: durable before visible, ordered gapless delivery, lossless
// resume, idempotent send, isolation.

const seqsOf = (frames: Frame[]) => frames.map((f) => f.seq as number);

/** Sends `count` messages at once (no waiting between them); resolves with every ack. */
function burst(socket: TestSocket, group: string, prefix: string, count: number, timeoutMs = 60_000): Promise<Frame[]> {
  return Promise.all(
    range(1, count).map((i) => socket.request({ type: 'send', group, clientMsgId: `${prefix}-${i}`, text: `${prefix} #${i}` }, timeoutMs)),
  );
}

/** Pages `sync` from `after` until hasMore is false; returns every event and the page sizes. */
async function syncAll(socket: TestSocket, group: string, after: number) {
  const events: Frame[] = [];
  const pages: number[] = [];
  for (let from = after; ; ) {
    const reply = await socket.request({ type: 'sync', groups: { [group]: from } });
    expect(reply.type).toBe('synced');
    const page = reply.groups[group];
    events.push(...page.events);
    pages.push(page.events.length);
    if (!page.hasMore) return { events, pages };
    from = page.events.at(-1).seq;
  }
}

describe.each(storageModes())('docs/protocol.md §1 guarantees (%s)', (mode) => {
  let server: TestServer;
  let independent: postgres.Sql | undefined;
  const sockets: TestSocket[] = [];
  const open = async (user: TestUser) => {
    const s = await connect(server.wsUrl, user.token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startServer({
      mode,
      // No lingering feeds: a start after a socket's close begins its feeds itself (the cold race below).
      env: { SYNC_LIMIT: '20', RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_S: '100000', FEED_CHECK_MS: '200', FEED_LINGER_MS: '0' },
    });
    if (mode === 'postgres') independent = postgres(process.env.DATABASE_URL!, { max: 4, onnotice: () => {} });
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await independent?.end({ timeout: 5 });
    await server?.stop();
  });

  /** Whether storage has the event, asked on a connection of its own (PostgreSQL) or the embedded database. */
  const stored = async (group: string, seq: number): Promise<boolean> => {
    if (independent) return (await independent`select seq from events where group_id = ${group} and seq = ${seq}`).length === 1;
    return (await eventsAfter(server.app.storage.db, group, seq - 1, 1))[0]?.seq === seq;
  };

  it('durable before visible: the moment an ack or event names seq n, storage already has n', async () => {
    const [asha, ben] = await tokenUsers(server, 2, 'durable');
    const group = await createGroup(server, asha!, [ben!]);
    const a = await open(asha!);
    const b = await open(ben!);
    const checks: Promise<[string, number, boolean, boolean]>[] = [];
    // Checked synchronously on arrival, before anything else can run: from storage directly and
    // through a fresh HTTP history request of another user.
    const probe = (what: string, seq: number, isMessage: boolean) => {
      const inHistory = isMessage
        ? server
            .http('GET', `/v1/groups/${group}/messages?before=${seq + 1}&limit=1`, { token: ben!.token })
            .then((r) => r.body.messages[0]?.seq === seq)
        : Promise.resolve(true);
      checks.push(Promise.all([stored(group, seq), inHistory]).then(([s, h]) => [what, seq, s, h]));
    };
    b.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.type === 'event' && f.group === group) probe('event', f.seq, f.kind === 'message');
    });
    a.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.type === 'ack' && typeof f.seq === 'number') probe('ack', f.seq, false);
    });
    const acks = await burst(a, group, 'd', 40);
    // The other write path (edit/react/delete commit through the outbox) and HTTP sends.
    const first = acks[0]!.seq as number;
    await Promise.all([
      a.request({ type: 'edit', group, target: first, text: 'edited' }),
      b.request({ type: 'react', group, target: first, emoji: '👍' }),
      a.request({ type: 'delete', group, target: first + 1 }),
      ...range(1, 10).map((i) =>
        server.http('POST', `/v1/groups/${group}/messages`, { token: ben!.token, body: { clientMsgId: `h${i}`, text: 'over http' } }),
      ),
    ]);
    const last = (await a.request({ type: 'send', group, clientMsgId: 'last', text: 'last' })).seq as number;
    await b.next((f) => f.type === 'event' && f.seq === last);
    const results = await Promise.all(checks);
    expect(results.filter(([, , s, h]) => !s || !h)).toEqual([]);
    // Every seq of the burst was probed as an event, and every ack too.
    expect(new Set(results.filter(([w]) => w === 'event').map(([, seq]) => seq)).size).toBe(last - 2);
  });

  it('ordered and gapless: 5 senders × 200 messages at once, plus HTTP sends, reach every socket in seq order', {
    timeout: 90_000,
  }, async () => {
    const senders = await tokenUsers(server, 5, 'sender');
    const [watcher, http] = await tokenUsers(server, 2, 'watch');
    const group = await createGroup(server, senders[0]!, [...senders.slice(1), watcher!, http!]);
    const senderSockets = await Promise.all(senders.map((u) => open(u)));
    const watchers = [await open(watcher!), await open(watcher!)];
    const base = (await server.http('GET', `/v1/groups/${group}`, { token: watcher!.token })).body.group.lastSeq as number;

    const [wsAcks, httpReplies] = await Promise.all([
      Promise.all(senderSockets.map((s, i) => burst(s, group, `s${i}`, 200))),
      Promise.all(
        range(1, 40).map((i) =>
          server.http('POST', `/v1/groups/${group}/messages`, {
            token: http!.token,
            body: { clientMsgId: `http-${i}`, text: `http ${i}` },
          }),
        ),
      ),
    ]);
    expect(httpReplies.every((r) => r.status === 201)).toBe(true);
    const acked = new Map<string, number>();
    for (const [i, acks] of wsAcks.entries()) {
      for (const [j, ack] of acks.entries()) {
        expect(ack.type).toBe('ack');
        acked.set(`${senders[i]!.id}/s${i}-${j + 1}`, ack.seq);
      }
    }
    for (const [i, r] of httpReplies.entries()) acked.set(`${http!.id}/http-${i + 1}`, r.body.seq);
    const total = 5 * 200 + 40;
    expect(new Set(acked.values()).size).toBe(total);

    for (const socket of [...senderSockets, ...watchers]) {
      const events = await socket.waitForEvents(group, total, 30_000);
      const fresh = events.filter((e) => e.seq > base);
      // Strictly increasing by one, no gap, no duplicate.
      expect(seqsOf(fresh)).toEqual(range(base + 1, base + total));
      // Exactly what was acked, each at the seq its ack named.
      expect(new Map(fresh.map((e) => [`${e.sender}/${e.clientMsgId}`, e.seq]))).toEqual(acked);
    }
  });

  it('a socket whose start begins its group feed, while messages stream in, gets ready at n, then n+1 onward, gapless and once', {
    timeout: 60_000,
  }, async () => {
    const [owner, member] = await tokenUsers(server, 2, 'coldstream');
    const group = await createGroup(server, owner!, [member!]);
    // Sent over HTTP: no socket here follows the group, so each of the member's starts begins its
    // feed (FEED_LINGER_MS 0), from the log's end its listing saw, while the log moves on.
    let sending = true;
    let lastSent = (await server.http('GET', `/v1/groups/${group}`, { token: owner!.token })).body.group.lastSeq as number;
    const stream = (async () => {
      for (let i = 1; sending && i <= 400; i++) {
        const res = await server.http('POST', `/v1/groups/${group}/messages`, {
          token: owner!.token,
          body: { clientMsgId: `c${i}`, text: `c${i}` },
        });
        expect(res.status).toBe(201);
        lastSent = res.body.seq as number;
      }
    })();
    const listedAt = (m: TestSocket) => (m.frames[0]!.groups as Frame[]).find((g) => g.id === group)!.lastSeq as number;
    let last: TestSocket;
    try {
      for (let round = 0; round < 12; round++) {
        const m = await open(member!);
        // Sent one at a time: storage is at most one message past the last reply, and ready names no seq beyond it.
        expect(listedAt(m), `round ${round}`).toBeLessThanOrEqual(lastSent + 1);
        await sleep(15 + (round % 4) * 10);
        m.terminate();
        // A prefix of what followed its ready, in order: nothing skipped, nothing twice.
        const got = seqsOf(m.events(group));
        expect(got, `round ${round}`).toEqual(range(listedAt(m) + 1, listedAt(m) + got.length));
      }
      // The last one stays: from its ready to the end of the stream, every event exactly once.
      last = await open(member!);
      // The stream goes on past its ready: an event of the group reaches it (or the stream is over).
      await Promise.race([last.next((f) => f.type === 'event' && f.group === group), stream]);
    } finally {
      sending = false;
      await stream;
    }
    const from = listedAt(last);
    const events = await last.waitForEvents(group, lastSent - from, 5000);
    expect(seqsOf(events)).toEqual(range(from + 1, lastSent));
    // With the log quiet and no socket left, a start begins the feed again and names exactly its end.
    await last.close();
    await waitUntil(() => server.app.gateway.hub.feeds.deliveredSeq(group) === -1, 5000, 'the feed ended with the last socket');
    expect(listedAt(await open(member!))).toBe(lastSent);
  });

  it('an event stored but never published (lost on the bus) reaches connected sockets by the periodic check', async () => {
    const [owner, member] = await tokenUsers(server, 2, 'lostpub');
    const group = await createGroup(server, owner!, [member!]);
    const m = await open(member!);
    // Committed the way a send commits, with no publish after it: as if the bus lost it.
    const [row] = await appendMessages(server.app.storage.db, [
      { groupId: group, ord: 1, senderId: owner!.id, clientMsgId: 'lost', text: 'never published', replyTo: null, mentions: [] },
    ]);
    const started = Date.now();
    const event = await m.next((f) => f.type === 'event' && f.group === group && f.seq === row!.seq, 3000);
    expect(event).toMatchObject({ kind: 'message', text: 'never published', sender: owner!.id, clientMsgId: 'lost' });
    // Within two checks of FEED_CHECK_MS (200 ms), with margin for a loaded machine.
    expect(Date.now() - started).toBeLessThan(2000);
    // Nothing before it was skipped, nothing delivered twice.
    expect(seqsOf(m.events(group))).toEqual([row!.seq]);
  });

  it('lossless resume: after a disconnect mid-stream, sync pages (hasMore) return exactly the missed events', async () => {
    const [asha, ben, cleo] = await tokenUsers(server, 3, 'resume');
    const group = await createGroup(server, asha!, [ben!, cleo!]);
    const sender = await open(asha!);
    const observer = await open(cleo!);
    const first = await open(ben!);
    const before = await burst(sender, group, 'before', 5);
    const lastSeen = (await first.next((f) => f.type === 'event' && f.seq === before.at(-1)!.seq)).seq as number;

    // Cut the socket while a stream is in flight; the others keep sending.
    const stream = burst(sender, group, 'during', 120);
    await first.waitForEvents(group, 10);
    first.terminate();
    await stream;
    const tail = burst(sender, group, 'while-reconnecting', 30);
    const second = await open(ben!);
    const ready = second.frames.find((f) => f.type === 'ready')!;
    const readyLastSeq = ready.groups.find((g: Frame) => g.id === group).lastSeq as number;
    const { events, pages } = await syncAll(second, group, lastSeen);
    await tail;
    const end = (await sender.request({ type: 'send', group, clientMsgId: 'end', text: 'end' })).seq as number;
    await second.next((f) => f.type === 'event' && f.seq === end);
    await observer.next((f) => f.type === 'event' && f.seq === end);

    // Sync: from lastSeen on, no gap, no duplicate, paged at SYNC_LIMIT (20) with hasMore.
    expect(events.length).toBeGreaterThan(120);
    expect(seqsOf(events)).toEqual(range(lastSeen + 1, lastSeen + events.length));
    expect(pages.slice(0, -1).every((n) => n === 20)).toBe(true);
    expect(pages.at(-1)).toBeLessThanOrEqual(20);
    // Exactly the events an uninterrupted socket received, byte for byte.
    const live = new Map(observer.events(group).map((e) => [e.seq, e]));
    for (const e of events) expect(e).toEqual(live.get(e.seq));
    // Live delivery on the new socket continues right after the lastSeq that ready announced.
    const liveAfter = second.events(group);
    expect(seqsOf(liveAfter)).toEqual(range(readyLastSeq + 1, end));
    // Together: nothing missing between what the first socket saw and the end.
    const union = new Set([...seqsOf(first.events(group)), ...seqsOf(events), ...seqsOf(liveAfter)]);
    expect([...union].sort((x, y) => x - y)).toEqual(range(first.events(group)[0]!.seq, end));
  });

  it('idempotent send: one event and identical acks for a clientMsgId repeated sequentially and concurrently, over WS and HTTP', async () => {
    const [asha, ben] = await tokenUsers(server, 2, 'idem');
    const group = await createGroup(server, asha!, [ben!]);
    const a1 = await open(asha!);
    const a2 = await open(asha!);
    const watcher = await open(ben!);

    const one = await a1.request({ type: 'send', group, clientMsgId: 'seq-1', text: 'once' });
    const again = await a1.request({ type: 'send', group, clientMsgId: 'seq-1', text: 'once' });
    const viaHttp = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: asha!.token,
      body: { clientMsgId: 'seq-1', text: 'once' },
    });
    expect(again).toMatchObject({ type: 'ack', group, seq: one.seq, ts: one.ts });
    expect(viaHttp).toEqual({ status: 201, body: { group, seq: one.seq, ts: one.ts } });

    // Concurrently: two sockets and HTTP at once, several times each, with other sends between.
    const [onA1, onA2, overHttp] = await Promise.all([
      Promise.all(range(1, 10).map(() => a1.request({ type: 'send', group, clientMsgId: 'conc', text: 'concurrent' }))),
      Promise.all(
        range(1, 10).map((i) =>
          a2.request({ type: 'send', group, clientMsgId: i % 2 ? 'conc' : `other-${i}`, text: i % 2 ? 'concurrent' : 'x' }),
        ),
      ),
      Promise.all(
        range(1, 6).map(() =>
          server.http('POST', `/v1/groups/${group}/messages`, { token: asha!.token, body: { clientMsgId: 'conc', text: 'concurrent' } }),
        ),
      ),
    ]);
    expect(overHttp.map((r) => r.status)).toEqual(range(1, 6).map(() => 201));
    const concAcks = [...onA1, ...onA2.filter((_, i) => i % 2 === 0), ...overHttp.map((r) => r.body as Frame)].map((r) => ({
      seq: r.seq,
      ts: r.ts,
    }));
    expect(concAcks).toHaveLength(10 + 5 + 6);
    expect(new Set(concAcks.map((r) => JSON.stringify(r))).size).toBe(1);

    // Another user may use the same clientMsgId: a different message.
    const bens = await watcher.request({ type: 'send', group, clientMsgId: 'conc', text: 'mine' });
    expect(bens.seq).not.toBe(concAcks[0]!.seq);

    const end = (await a1.request({ type: 'send', group, clientMsgId: 'end', text: 'end' })).seq as number;
    await watcher.next((f) => f.type === 'event' && f.seq === end);
    const delivered = watcher.events(group).filter((e) => e.kind === 'message');
    expect(delivered.filter((e) => e.clientMsgId === 'seq-1' && e.sender === asha!.id).map((e) => e.seq)).toEqual([one.seq]);
    expect(delivered.filter((e) => e.clientMsgId === 'conc').map((e) => [e.sender, e.seq])).toEqual(
      [
        [asha!.id, concAcks[0]!.seq],
        [ben!.id, bens.seq],
      ].sort((x, y) => (x[1] as number) - (y[1] as number)),
    );
    const history = await server.http('GET', `/v1/groups/${group}/messages?limit=100`, { token: ben!.token });
    expect(history.body.messages.filter((m: Frame) => m.clientMsgId === 'conc')).toHaveLength(2);
    expect(seqsOf(watcher.events(group))).toEqual(range(watcher.events(group)[0]!.seq, end));
  });

  describe('isolation', () => {
    it('a non-member gets not_found for every WS command and HTTP endpoint of the group, and receives nothing of it', async () => {
      const [owner, member, outsider] = await tokenUsers(server, 3, 'iso');
      const group = await createGroup(server, owner!, [member!]);
      const o = await open(owner!);
      const x = await open(outsider!);
      expect(x.frames[0]!.groups).toEqual([]);
      const target = (await o.request({ type: 'send', group, clientMsgId: 'm1', text: 'secret' })).seq as number;

      const missing = 'g_doesnotexist0000';
      const wsCommands = (g: string): Frame[] => [
        { type: 'send', group: g, clientMsgId: 'x1', text: 'let me in' },
        { type: 'edit', group: g, target, text: 'mine now' },
        { type: 'delete', group: g, target },
        { type: 'react', group: g, target, emoji: '👀' },
        { type: 'read', group: g, seq: target },
        { type: 'typing', group: g },
        { type: 'sync', groups: { [g]: 0 } },
        { type: 'history', group: g },
      ];
      for (const [i, command] of wsCommands(group).entries()) {
        const reply = await x.request(command);
        expect(reply, command.type).toMatchObject({ type: 'error', code: 'not_found' });
        // Indistinguishable from a group that does not exist.
        const other = await x.request(wsCommands(missing)[i]!);
        expect(other.code).toBe('not_found');
        expect(reply.message).toBe(other.message);
      }

      const endpoints = (g: string): [string, string, unknown?][] => [
        ['GET', `/v1/groups/${g}`],
        ['PATCH', `/v1/groups/${g}`, { name: 'taken over' }],
        ['GET', `/v1/groups/${g}/members`],
        ['POST', `/v1/groups/${g}/members`, { userId: outsider!.id }],
        ['DELETE', `/v1/groups/${g}/members/${member!.id}`],
        ['DELETE', `/v1/groups/${g}/members/${outsider!.id}`],
        ['GET', `/v1/groups/${g}/messages`],
        ['POST', `/v1/groups/${g}/messages`, { clientMsgId: 'x2', text: 'let me in' }],
        ['GET', `/v1/groups/${g}/messages/${target}/receipts`],
      ];
      for (const [i, [method, path, body]] of endpoints(group).entries()) {
        const r = await server.http(method, path, { token: outsider!.token, ...(body ? { body } : {}) });
        expect({ method, path, status: r.status, code: r.body?.error?.code }).toEqual({ method, path, status: 404, code: 'not_found' });
        const [m2, p2, b2] = endpoints(missing)[i]!;
        const other = await server.http(m2, p2, { token: outsider!.token, ...(b2 ? { body: b2 } : {}) });
        expect(r.body).toEqual(other.body);
      }

      // Nothing of the group reached the outsider: events, typing, anything naming it.
      o.send({ type: 'typing', id: 't1', group });
      const last = (await o.request({ type: 'send', group, clientMsgId: 'm2', text: 'still secret' })).seq as number;
      const m = await open(member!);
      m.send({ type: 'typing', id: 't2', group });
      await o.next((f) => f.type === 'typing' && f.user === member!.id);
      await x.request({ type: 'ping' });
      expect(x.frames.filter((f) => f.group === group && f.type !== 'error')).toEqual([]);
      const state = await server.http('GET', `/v1/groups/${group}`, { token: owner!.token });
      expect(state.body.group.lastSeq).toBe(last); // nothing the outsider tried was stored
      const history = await server.http('GET', `/v1/groups/${group}/messages`, { token: owner!.token });
      expect(history.body.messages.map((msg: Frame) => [msg.text, msg.reactions, msg.deleted])).toEqual([
        ['still secret', {}, false],
        ['secret', {}, false],
      ]);
    });

    it('a removed member gets the removal event, then group_removed, then nothing more of the group', async () => {
      const [owner, member] = await tokenUsers(server, 2, 'removed');
      const group = await createGroup(server, owner!, [member!]);
      const other = await createGroup(server, owner!, [member!], 'Other');
      const o = await open(owner!);
      const m = await open(member!);
      await burst(o, group, 'pre', 3);
      const removal = await server.http('DELETE', `/v1/groups/${group}/members/${member!.id}`, { token: owner!.token });
      expect(removal.status).toBe(204);
      const removedEvent = await m.next((f) => f.type === 'event' && f.group === group && f.kind === 'member' && f.action === 'removed');
      expect(removedEvent).toMatchObject({ member: member!.id, sender: owner!.id });
      const removedAt = m.frames.indexOf(removedEvent);
      const gone = await m.next((f) => f.type === 'group_removed' && f.group === group);
      expect(m.frames.indexOf(gone)).toBeGreaterThan(removedAt);

      // After the removal: messages and typing of the group do not reach the removed member.
      o.send({ type: 'typing', id: 'ty', group });
      await burst(o, group, 'post', 5);
      // A later event of another group proves the earlier ones had their chance to arrive.
      const marker = (await o.request({ type: 'send', group: other, clientMsgId: 'marker', text: 'marker' })).seq;
      await m.next((f) => f.type === 'event' && f.group === other && f.seq === marker);
      expect(m.events(group).at(-1)).toEqual(removedEvent);
      expect(m.frames.filter((f) => f.type === 'typing' && f.group === group)).toEqual([]);
      expect(await m.request({ type: 'send', group, clientMsgId: 'late', text: 'hello?' })).toMatchObject({
        type: 'error',
        code: 'not_found',
      });
      expect(await m.request({ type: 'sync', groups: { [group]: 0 } })).toMatchObject({ type: 'error', code: 'not_found' });
      // A new socket of the removed member does not list the group.
      const fresh = await open(member!);
      expect(fresh.frames[0]!.groups.map((g: Frame) => g.id)).toEqual([other]);
    });

    /**
     * 40 rounds: the member's socket starts while the owner removes or adds them, either first by
     * 0 to 4 ms. The socket must end up following the group exactly when the member is in it, and
     * receive its messages only then. `post` sends as the owner and returns the seq; `end` closes
     * the member's socket after each round.
     */
    const raceStartsWithMembership = async (
      [owner, member]: TestUser[],
      [group, other]: string[],
      post: (to: string, clientMsgId: string, text: string) => Promise<number>,
      end: (socket: TestSocket) => Promise<void>,
    ) => {
      for (let round = 0; round < 40; round++) {
        const removing = round % 2 === 0;
        // Either side first, by 0 to 4 ms: the change lands before, during and after the start.
        const lead = (Math.floor(round / 2) % 9) - 4;
        const change = async () => {
          await sleep(Math.max(0, lead));
          const res = removing
            ? await server.http('DELETE', `/v1/groups/${group}/members/${member!.id}`, { token: owner!.token })
            : await server.http('POST', `/v1/groups/${group}/members`, { token: owner!.token, body: { userId: member!.id } });
          expect(res.status).toBe(removing ? 204 : 201);
        };
        const [m] = await Promise.all([sleep(Math.max(0, -lead)).then(() => open(member!)), change()]);
        // What the socket was told, in order: listed at ready, then added or removed.
        const follows = () => {
          let on = (m!.frames[0]!.groups as Frame[]).some((g) => g.id === group);
          for (const f of m!.frames) {
            if (f.type === 'group_added' && f.group.id === group) on = true;
            if (f.type === 'group_removed' && f.group === group) on = false;
          }
          return on;
        };
        const deadline = Date.now() + 5000;
        while (follows() === removing && Date.now() < deadline) await sleep(10);
        expect(follows(), `round ${round}`).toBe(!removing);
        // And what it receives: a message of the group arrives only while it is a member.
        const text = `round ${round}`;
        await post(group!, `r${round}`, text);
        const marker = await post(other!, `m${round}`, 'marker');
        await m!.next((f) => f.type === 'event' && f.group === other && f.seq === marker);
        expect(
          m!.frames.some((f) => f.type === 'event' && f.group === group && f.text === text),
          `round ${round}`,
        ).toBe(!removing);
        await end(m!);
      }
    };

    it('a member removed or added while a socket of theirs starts ends up following exactly the groups it is in', async () => {
      const [owner, member] = await tokenUsers(server, 2, 'racing');
      const group = await createGroup(server, owner!, [member!]);
      const other = await createGroup(server, owner!, [member!], 'Other');
      // The owner's socket keeps both feeds running: the session start lists once.
      const o = await open(owner!);
      const post = async (to: string, clientMsgId: string, text: string) =>
        (await o.request({ type: 'send', group: to, clientMsgId, text })).seq as number;
      await raceStartsWithMembership([owner!, member!], [group, other], post, async (m) => m.terminate());
    });

    it('the same race when no socket here keeps the feeds running: each start begins them itself', async () => {
      const [owner, member] = await tokenUsers(server, 2, 'racing-cold');
      const group = await createGroup(server, owner!, [member!]);
      const other = await createGroup(server, owner!, [member!], 'Other');
      const post = async (to: string, clientMsgId: string, text: string) => {
        const res = await server.http('POST', `/v1/groups/${to}/messages`, { token: owner!.token, body: { clientMsgId, text } });
        expect(res.status).toBe(201);
        return res.body.seq as number;
      };
      // The feeds stop with the member's only socket; the next round starts them again.
      await raceStartsWithMembership([owner!, member!], [group, other], post, async (m) => {
        await m.close();
      });
    });

    it('an added member gets group_added, then the live events right after its lastSeq', async () => {
      const [owner, newcomer] = await tokenUsers(server, 2, 'added');
      const group = await createGroup(server, owner!);
      const o = await open(owner!);
      const n = await open(newcomer!);
      await burst(o, group, 'before', 3);
      const added = await server.http('POST', `/v1/groups/${group}/members`, { token: owner!.token, body: { userId: newcomer!.id } });
      expect(added.status).toBe(201);
      const frame = await n.next((f) => f.type === 'group_added');
      expect(frame.group).toMatchObject({ id: group, kind: 'group', role: 'member', communityId: null, readSeq: 0 });
      // Messages sent while the socket is being set up and after.
      await burst(o, group, 'after', 10);
      const end = (await o.request({ type: 'send', group, clientMsgId: 'end', text: 'end' })).seq as number;
      await n.next((f) => f.type === 'event' && f.seq === end);
      expect(seqsOf(n.events(group))).toEqual(range(frame.group.lastSeq + 1, end));
      // And it may now read what was there before it joined, via sync.
      const synced = await n.request({ type: 'sync', groups: { [group]: 0 } });
      expect(seqsOf(synced.groups[group].events)).toEqual(range(1, Math.min(20, end)));
    });
  });
});
