import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUsers } from '../helpers/users.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Search": the caller's groups only, any language, edits and deletes respected, paged.

describe.each(storageModes())('search (%s)', (mode) => {
  let server: TestServer;
  let alice: TestUser, bob: TestUser, carol: TestUser;
  let shared: string, other: string, hidden: string;
  let socket: TestSocket;

  const post = async (user: TestUser, group: string, text: string) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: user.token,
      body: { clientMsgId: `c-${Math.random()}`, text },
    });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  const search = async (user: TestUser, params: Record<string, string | number>) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    return server.http('GET', `/v1/search?${query}`, { token: user.token });
  };
  const texts = async (user: TestUser, q: string, extra: Record<string, string> = {}) => {
    const r = await search(user, { q, ...extra });
    expect(r.status).toBe(200);
    return (r.body.results as { text: string }[]).map((x) => x.text);
  };

  beforeAll(async () => {
    server = await startServer({ mode, env: { SEARCH_RATE: '60/60' } });
    [alice, bob, carol] = (await tokenUsers(server, 3, 'search')) as [TestUser, TestUser, TestUser];
    shared = await createGroup(server, alice, [bob], 'Parents');
    other = await createGroup(server, alice, [carol], 'Volunteers');
    hidden = await createGroup(server, carol, [], 'Carol alone');
    socket = await connect(server.wsUrl, alice.token);
  });
  afterAll(async () => {
    socket?.terminate();
    await server?.stop();
  });

  it('English: stems match (volunteers ↔ volunteering), results carry group, seq, sender and a snippet', async () => {
    const seq = await post(bob, shared, 'Volunteers meeting on Saturday at the school hall');
    await post(bob, shared, 'Nothing to see here');
    const r = await search(alice, { q: 'volunteering meetings' });
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      {
        group: shared,
        seq,
        ts: expect.any(String),
        sender: bob.id,
        text: 'Volunteers meeting on Saturday at the school hall',
        snippet: 'Volunteers meeting on Saturday at the school hall',
      },
    ]);
    expect(r.body.nextCursor).toBeNull();
    // Only English stop words: matched as plain words rather than not at all.
    await post(bob, shared, 'The Who played at the fair');
    expect(await texts(alice, 'the who')).toEqual(['The Who played at the fair']);
  });

  it('Hindi: whole words, phrases and suffixed forms (स्वयंसेवक, मासिक धर्म)', async () => {
    await post(alice, other, 'हमारे स्वयंसेवक कल सुबह आएंगे');
    await post(alice, other, 'सभी स्वयंसेवकों की बैठक रविवार को है');
    await post(alice, other, 'मासिक धर्म स्वच्छता पर कार्यशाला');
    await post(alice, other, 'धर्म और संस्कृति');
    expect((await texts(alice, 'स्वयंसेवक')).sort()).toEqual(['सभी स्वयंसेवकों की बैठक रविवार को है', 'हमारे स्वयंसेवक कल सुबह आएंगे'].sort());
    expect(await texts(alice, 'मासिक धर्म')).toEqual(['मासिक धर्म स्वच्छता पर कार्यशाला']);
    expect(await texts(carol, 'बैठक')).toEqual(['सभी स्वयंसेवकों की बैठक रविवार को है']);
  });

  it('mixed text: words of both scripts together', async () => {
    await post(alice, other, 'Workshop on मासिक धर्म hygiene next Friday');
    expect(await texts(alice, 'मासिक hygiene')).toEqual(['Workshop on मासिक धर्म hygiene next Friday']);
    expect(await texts(alice, 'workshops')).toEqual(['Workshop on मासिक धर्म hygiene next Friday']);
  });

  it('isolation: a term from a group the caller is not in never appears, and naming that group is not_found', async () => {
    await post(carol, hidden, 'zebracorn plans for the protest');
    expect(await texts(carol, 'zebracorn')).toEqual(['zebracorn plans for the protest']);
    const r = await search(alice, { q: 'zebracorn' });
    expect(r.body).toEqual({ results: [], nextCursor: null });
    expect((await search(alice, { q: 'zebracorn', group: hidden })).body).toEqual({
      error: { code: 'not_found', message: 'group not found' },
    });
    expect((await search(alice, { q: 'zebracorn', group: 'g_nope' })).body).toEqual({
      error: { code: 'not_found', message: 'group not found' },
    });
    expect((await search(bob, { q: 'zebracorn', community: 'c_nope' })).status).toBe(404);
    // Bob is in one of Alice's groups, not the other: only that one's messages.
    expect(await texts(bob, 'स्वयंसेवक')).toEqual([]);
    // A member who left finds nothing more there.
    const leaving = (await tokenUsers(server, 1, 'leaver'))[0]!;
    await server.http('POST', `/v1/groups/${hidden}/members`, { token: carol.token, body: { userId: leaving.id } });
    expect(await texts(leaving, 'zebracorn')).toHaveLength(1);
    await server.http('DELETE', `/v1/groups/${hidden}/members/${leaving.id}`, { token: leaving.token });
    expect(await texts(leaving, 'zebracorn')).toEqual([]);
  });

  it('an edit replaces what is searchable, and a deleted message never matches', async () => {
    const seq = (await socket.request({ type: 'send', group: shared, clientMsgId: 'edit-me', text: 'bring aubergines please' })).seq;
    expect(await texts(alice, 'aubergines')).toHaveLength(1);
    expect(await socket.request({ type: 'edit', group: shared, target: seq, text: 'bring courgettes please' })).toMatchObject({
      type: 'ack',
    });
    expect(await texts(alice, 'aubergines')).toEqual([]);
    expect(await texts(alice, 'courgettes')).toEqual(['bring courgettes please']);
    expect(await socket.request({ type: 'delete', group: shared, target: seq })).toMatchObject({ type: 'ack' });
    expect(await texts(alice, 'courgettes')).toEqual([]);
  });

  it('pages newest first with a cursor, without repeats; one group or all', async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push(await post(bob, shared, `raffle ticket number ${i}`));
    await post(alice, other, 'raffle in the other group');
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const r = await search(alice, { q: 'raffle', group: shared, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(r.status).toBe(200);
      expect(r.body.results.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.results.map((x: { seq: number }) => x.seq));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seqs].reverse());
    expect(await texts(alice, 'raffle')).toHaveLength(6);
  });

  it('snippets cut long text around the match', async () => {
    const long = `${'intro words '.repeat(30)}the pickup point is the library ${'closing words '.repeat(30)}`;
    await post(bob, shared, long);
    const [hit] = (await search(alice, { q: 'library' })).body.results;
    expect(hit.snippet.length).toBeLessThan(200);
    expect(hit.snippet).toContain('library');
    expect(hit.snippet.startsWith('…')).toBe(true);
    expect(hit.snippet.endsWith('…')).toBe(true);
  });

  it('bounded: q 1–200 characters, limit ≤ 50, a valid cursor; per-user rate limit', async () => {
    expect((await search(alice, { q: '' })).status).toBe(400);
    expect((await search(alice, { q: 'x'.repeat(201) })).status).toBe(400);
    expect((await search(alice, { q: 'a', limit: 51 })).status).toBe(400);
    expect((await search(alice, { q: 'a', cursor: 'bm9wZQ' })).status).toBe(400);
    // Query syntax is data, not SQL or LIKE patterns.
    expect((await search(alice, { q: `%' or 1=1 --` })).status).toBe(200);
    expect(await texts(alice, '%%%')).toEqual([]);
    const [eve] = await tokenUsers(server, 1, 'eve');
    let status = 200;
    for (let i = 0; i < 61 && status === 200; i++) status = (await search(eve!, { q: 'anything' })).status;
    expect(status).toBe(429);
  });
});

// Issue 35 (13): a search's work is bounded by SEARCH_SCAN_ROWS however large the searcher's own
// corpus; past the bound the page says `partial` and its cursor goes on, gapless and in order.
describe.each(storageModes())('search work bound (%s)', (mode) => {
  let server: TestServer;
  let owner: TestUser, friend: TestUser;
  let big: string, small: string;
  const posted: { group: string; seq: number; text: string }[] = [];
  const RARE = 'दुर्लभशब्द';

  const search = async (params: Record<string, string | number>) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    const r = await server.http('GET', `/v1/search?${query}`, { token: owner.token });
    expect(r.status).toBe(200);
    return r.body as { results: { group: string; seq: number; ts: string; text: string }[]; nextCursor: string | null; partial?: true };
  };
  /** Every page of a search, following nextCursor to its end. */
  const allPages = async (q: string, limit: number) => {
    const pages = [];
    let cursor: string | null = null;
    do {
      const page = await search({ q, limit, ...(cursor ? { cursor } : {}) });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor && pages.length < 100);
    return pages;
  };

  beforeAll(async () => {
    // 100 messages a search: 50 of each of two groups.
    server = await startServer({ mode, env: { SEARCH_SCAN_ROWS: '100', SEARCH_RATE: '1000/1' } });
    [owner, friend] = (await tokenUsers(server, 2, 'bound')) as [TestUser, TestUser];
    big = await createGroup(server, owner, [friend], 'Big');
    small = await createGroup(server, owner, [friend], 'Small');
    const post = async (group: string, text: string) => {
      const r = await server.http('POST', `/v1/groups/${group}/messages`, {
        token: friend.token,
        body: { clientMsgId: `b-${posted.length}`, text },
      });
      expect(r.status).toBe(201);
      posted.push({ group, seq: r.body.seq, text });
    };
    // The oldest message alone has the rare word; 180 after it, two of the big group to one of the small.
    await post(big, `${RARE} पुरानी सूचना`);
    for (let i = 0; i < 180; i++) await post(i % 3 === 2 ? small : big, `सभी स्वयंसेवकों की बैठक ${i}`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a rare word past the bound: the first page is partial with a cursor, a later one finds it', async () => {
    const first = await search({ q: RARE, limit: 20 });
    expect(first).toMatchObject({ results: [], partial: true, nextCursor: expect.any(String) });
    const pages = await allPages(RARE, 20);
    expect(pages.flatMap((p) => p.results.map((r) => r.text))).toEqual([`${RARE} पुरानी सूचना`]);
    expect(pages.at(-1)!.nextCursor).toBeNull();
    // Each page looked at no more than the bound: 181 messages take at least two pages.
    expect(pages.length).toBeGreaterThanOrEqual(2);
  });

  it('a word in every message: full pages, newest first, every match once across both groups (substring and case-free match)', async () => {
    const pages = await allPages('स्वयंसेवक', 20);
    const found = pages.flatMap((p) => p.results);
    const expected = posted.filter((m) => m.text.includes('स्वयंसेवक')).reverse();
    expect(found.map((r) => `${r.group}:${r.seq}`)).toEqual(expected.map((m) => `${m.group}:${m.seq}`));
    // The walk's bound never shows as a short page here: 20 of 50 looked at per group is plenty.
    expect(pages.slice(0, -1).every((p) => p.results.length === 20)).toBe(true);
  });

  it('one group: its walk alone, still bounded and complete', async () => {
    const pages = [];
    let cursor: string | null = null;
    do {
      const page = await search({ q: 'बैठक', group: small, limit: 50, ...(cursor ? { cursor } : {}) });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor && pages.length < 20);
    const expected = posted.filter((m) => m.group === small).reverse();
    expect(pages.flatMap((p) => p.results.map((r) => r.seq))).toEqual(expected.map((m) => m.seq));
  });
});
