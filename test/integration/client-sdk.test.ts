import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BanyanClient, BanyanError, type ClientOptions, type SendAck } from '../../src/client/index.js';
import { waitFor } from '../helpers/bus-contract.js';
import { FaultyNetwork, range, record, seqsOf } from '../helpers/sdk.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';

// The SDK against a real gateway. SYNC_LIMIT is small so that every resume pages `sync`.

describe.each(storageModes())('client SDK against a real gateway (%s)', (mode) => {
  let server: TestServer;
  const clients: BanyanClient[] = [];
  beforeAll(async () => {
    server = await startServer({ mode, env: { SYNC_LIMIT: '5' } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const client = (user: TestUser, options: Partial<ClientOptions> = {}) => {
    const c = new BanyanClient({ url: server.url, token: user.token, WebSocket, reconnect: { baseMs: 20, maxMs: 200 }, ...options });
    c.on('error', () => undefined); // asserted where it matters
    clients.push(c);
    return c;
  };

  it('connects with the ws package, delivers live messages in order and counts unread from read markers', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const a = client(asha);
    const b = client(ben);
    const atB = record(b);
    await Promise.all([a.connect(), b.connect()]);
    expect(a.user).toEqual({ id: asha.id, name: asha.name });
    expect(b.group(group)).toMatchObject({ id: group, kind: 'group', role: 'member', lastSeq: 2, readSeq: 0, unread: 0 });

    const acks = await Promise.all(['one', 'two', 'three'].map((text) => a.send(group, text)));
    expect(acks.map((x) => x.seq)).toEqual([3, 4, 5]);
    await atB.waitFor('three messages at ben', () => atB.messages(group).length === 3);
    expect(atB.messages(group).map((e) => [e.seq, e.sender, e.kind === 'message' && e.text])).toEqual([
      [3, asha.id, 'one'],
      [4, asha.id, 'two'],
      [5, asha.id, 'three'],
    ]);
    expect(b.group(group)!.unread).toBe(3);
    expect(a.group(group)!.unread).toBe(0); // one's own messages are not unread

    // A second device of ben starts with the unread count of the server's read marker…
    const b2 = client(ben);
    await b2.connect();
    expect(b2.group(group)!.unread).toBe(3);
    // …and hears when the first one reads.
    b.markRead(group, 4);
    expect(b.group(group)).toMatchObject({ readSeq: 4, unread: 1 });
    await waitFor(() => b2.group(group)!.unread === 1, 'the read marker at the second device');
    expect(b2.group(group)!.readSeq).toBe(4);
  });

  it('loses and duplicates nothing when the connection is cut mid-conversation, with sends queued offline', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const network = new FaultyNetwork();
    const a = client(asha, { WebSocket: network.WebSocket });
    const b = client(ben);
    const atA = record(a);
    const atB = record(b);
    await Promise.all([a.connect(), b.connect()]);

    // Ben talks steadily; asha's connection is cut from both ends while he does, and asha
    // keeps typing while she is offline.
    const benSends: Promise<SendAck>[] = [];
    const ashaSends: Promise<SendAck>[] = [];
    let cuts = 0;
    for (let i = 0; i < 40; i++) {
      benSends.push(b.send(group, `b${i}`));
      if (i === 10 || i === 25) {
        await benSends[i];
        if (cuts++ === 0) network.cut();
        else for (const s of server.app.gateway.hub.sessions()) if (s.principal.userId === asha.id) s.socket.close();
        await waitFor(() => a.state === 'reconnecting', 'asha to notice the cut');
        for (let j = 0; j < 5; j++) ashaSends.push(a.send(group, `a${ashaSends.length}`));
      }
    }
    const [benAcks, ashaAcks] = await Promise.all([Promise.all(benSends), Promise.all(ashaSends)]);
    const lastSeq = 2 + 40 + 10;
    expect(new Set([...benAcks, ...ashaAcks].map((x) => x.seq)).size).toBe(50);
    await atA.waitFor('every event at asha', () => a.group(group)!.lastSeq === lastSeq);
    await atB.waitFor('every event at ben', () => b.group(group)!.lastSeq === lastSeq);

    for (const seen of [atA, atB]) {
      // Every event once, in seq order, from the first this client fetched to the last.
      expect(seqsOf(seen.of(group))).toEqual(range(1, lastSeq));
      const texts = seen.messages(group).map((e) => (e.kind === 'message' ? e.text : ''));
      expect(texts.filter((t) => t!.startsWith('b'))).toEqual(range(0, 39).map((i) => `b${i}`));
      expect(texts.filter((t) => t!.startsWith('a'))).toEqual(range(0, 9).map((i) => `a${i}`));
    }
    expect(network.links.length).toBe(3);
    expect(a.pending(group)).toEqual([]);
  });

  it('retries a send whose ack was lost with the same clientMsgId, and the server stores it once', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const network = new FaultyNetwork();
    const a = client(asha, { WebSocket: network.WebSocket });
    const atA = record(a);
    await a.connect();
    // The first ack of a send is lost together with its connection.
    let lost = 0;
    network.dropIncoming = (frame, link) => {
      if (lost > 0 || !frame.includes('"type":"ack"') || !frame.includes('"seq"')) return false;
      lost++;
      link.ws.terminate();
      return true;
    };
    const ack = await a.send(group, 'only once', { clientMsgId: 'fixed-id-1' });
    expect(lost).toBe(1);
    expect(network.links.length).toBe(2);
    expect(ack).toMatchObject({ group, seq: 3, clientMsgId: 'fixed-id-1' });
    await atA.waitFor('the message event', () => a.group(group)!.lastSeq === 3);
    const sent = await a.send(group, 'next');
    expect(sent.seq).toBe(4);
    const history = await a.history(group);
    expect(history.messages.map((m) => [m.seq, m.clientMsgId, m.text])).toEqual([
      [4, sent.clientMsgId, 'next'],
      [3, 'fixed-id-1', 'only once'],
    ]);
    expect(atA.messages(group).map((e) => e.seq)).toEqual([3, 4]);
  });

  it('notices a connection that went silent (no close) by its ping, and resumes without loss', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const network = new FaultyNetwork();
    const a = client(asha, { WebSocket: network.WebSocket, pingIntervalMs: 200, pingTimeoutMs: 300 });
    const atA = record(a);
    await a.connect();
    const dead = network.current;
    network.dropIncoming = (_frame, link) => link === dead; // a black hole: nothing arrives, nothing closes
    for (let i = 0; i < 3; i++) {
      expect(
        (await server.http('POST', `/v1/groups/${group}/messages`, { token: ben.token, body: { clientMsgId: `s${i}`, text: `m${i}` } }))
          .status,
      ).toBe(201);
    }
    await atA.waitFor('the messages sent into the silence', () => a.group(group)!.lastSeq === 5);
    // At least one new link: on a loaded machine a 300 ms ping timeout may also give up on the
    // second link while its session starts (seen once in CI), which is the client working as meant.
    expect(network.links.length).toBeGreaterThanOrEqual(2);
    expect(seqsOf(atA.of(group))).toEqual(range(1, 5));
  });

  it('sends made before connecting wait in the queue and go out in order', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const a = client(asha);
    const sends = ['first', 'second', 'third'].map((t) => a.send(group, t));
    expect(a.pending(group).map((p) => [p.text, p.status])).toEqual([
      ['first', 'queued'],
      ['second', 'queued'],
      ['third', 'queued'],
    ]);
    await a.connect();
    expect((await Promise.all(sends)).map((x) => x.seq)).toEqual([3, 4, 5]);
    expect(a.pending(group)).toEqual([]);
  });

  it('fails a send the server refuses for good, keeping it visible as failed', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const a = client(asha);
    await a.connect();
    const error = await a.send('g_nonexistent', 'hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BanyanError);
    expect((error as BanyanError).code).toBe('not_found');
    expect(a.pending('g_nonexistent').map((p) => p.status)).toEqual(['failed']);
    a.cancel('g_nonexistent', a.pending('g_nonexistent')[0]!.clientMsgId);
    expect(a.pending('g_nonexistent')).toEqual([]);
    expect((await a.send(group, 'still fine')).seq).toBe(3);
  });

  it('resumes from given cursors, paging sync, and pages history back to the beginning', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    for (let i = 0; i < 21; i++) {
      const r = await server.http('POST', `/v1/groups/${group}/messages`, {
        token: asha.token,
        body: { clientMsgId: `h${i}`, text: `m${i}` },
      });
      expect(r.status).toBe(201);
    }
    const b = client(ben, { cursors: { [group]: 0 } });
    const atB = record(b);
    await b.connect(); // resolves once caught up
    expect(seqsOf(atB.of(group))).toEqual(range(1, 23));
    expect(b.group(group)!.unread).toBe(21);

    const pages: number[][] = [];
    for await (const page of b.historyPages(group, { limit: 10 })) pages.push(page.map((m) => m.seq));
    expect(pages).toEqual([range(14, 23).reverse(), range(4, 13).reverse(), range(3, 3)]);
  });

  it('follows a group it is added to while connected, and passes typing on', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const a = client(asha);
    const b = client(ben);
    const atB = record(b);
    await Promise.all([a.connect(), b.connect()]);
    const added = new Promise((resolve) => b.on('group', resolve));
    const group = await createGroup(server, asha, [ben], 'Later');
    expect(await added).toMatchObject({ id: group, name: 'Later', role: 'member' });
    await atB.waitFor('the member events', () => b.group(group)!.lastSeq === 2);
    expect(atB.of(group).map((e) => e.kind === 'member' && [e.seq, e.member, e.action])).toEqual([
      [1, asha.id, 'joined'],
      [2, ben.id, 'added'],
    ]);
    const typing = new Promise((resolve) => a.on('typing', resolve));
    b.typing(group);
    expect(await typing).toEqual({ type: 'typing', group, user: ben.id });
  });

  it('stops for good when the session is revoked, failing what is still queued', async () => {
    const asha = await server.signUp();
    const a = client(asha);
    await a.connect();
    const closed = new Promise<{ code: number }>((resolve) => a.on('closed', resolve));
    expect((await server.http('DELETE', '/v1/sessions/current', { token: asha.token })).status).toBe(204);
    expect((await closed).code).toBe(4403);
    expect(a.state).toBe('closed');
    await expect(a.send('g_x', 'too late')).rejects.toMatchObject({ code: 'unavailable' });
  });
});
