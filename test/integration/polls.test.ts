import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { BanyanClient, BanyanError } from '../../src/client/index.js';
import type { GroupEvent } from '../../src/protocol/server-frames.js';
import { waitUntil } from '../helpers/replicas.js';
import { createGroup, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sharedServer } from '../helpers/shared-server.js';
import { sleep, tokenUser, tokenUsers } from '../helpers/users.js';

// docs/protocol.md §8 "Polls and events" and "Events" as members and attackers use them, over WS and HTTP.

const TALLY_INTERVAL_MS = 400;
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe.each(storageModes())('polls and events (%s)', (mode) => {
  const shared = sharedServer(() => ({ mode, env: { TALLY_INTERVAL_MS: String(TALLY_INTERVAL_MS) } }));
  const { open } = shared;
  let server: TestServer;
  let n = 0;
  beforeAll(() => {
    server = shared.server;
  });
  const post = (u: TestUser, group: string, body: Record<string, unknown>) =>
    server.http('POST', `/v1/groups/${group}/messages`, { token: u.token, body: { clientMsgId: `c${n++}`, text: '', ...body } });
  const postPoll = async (u: TestUser, group: string, poll: Record<string, unknown>) => {
    const r = await post(u, group, { poll });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.seq as number;
  };
  const postEvent = async (u: TestUser, group: string, event: Record<string, unknown>) => {
    const r = await post(u, group, { event });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.seq as number;
  };
  const community = async (owner: TestUser, members: TestUser[]) => {
    const r = await server.http('POST', '/v1/communities', { token: owner.token, body: { name: 'Volunteers' } });
    expect(r.status).toBe(201);
    const c = r.body.community as { id: string; announcementGroupId: string };
    const invite = await server.http('POST', `/v1/communities/${c.id}/invites`, { token: owner.token, body: {} });
    for (const u of members)
      expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: u.token })).status).toBe(200);
    return c;
  };
  const votes = (u: TestUser, g: string, seq: number, q = '') =>
    server.http('GET', `/v1/groups/${g}/messages/${seq}/votes${q}`, { token: u.token });
  const rsvps = (u: TestUser, g: string, seq: number, q = '') =>
    server.http('GET', `/v1/groups/${g}/messages/${seq}/rsvps${q}`, { token: u.token });

  it('a poll in an ordinary group: vote, change, retract; vote events name the voter; history and GET votes show counts', async () => {
    const [owner, asha, ravi] = await tokenUsers(server, 3, 'p');
    const g = await createGroup(server, owner!, [asha!, ravi!]);
    const watcher = await open(owner!);
    const as = await open(asha!);
    const rs = await open(ravi!);
    const seq = await postPoll(owner!, g, { question: 'Which Saturday works?', options: ['5th', '12th', '19th'] });
    const created = await watcher.next((f) => f.type === 'event' && f.seq === seq);
    expect(created).toMatchObject({
      kind: 'message',
      text: '',
      poll: { question: 'Which Saturday works?', options: ['5th', '12th', '19th'], multiple: false },
    });

    const a1 = await as.request({ type: 'vote', group: g, target: seq, options: [1] });
    expect(a1).toMatchObject({ type: 'ack', group: g, seq: seq + 1 });
    expect(await watcher.next((f) => f.type === 'event' && f.seq === seq + 1)).toMatchObject({
      kind: 'vote',
      target: seq,
      voter: asha!.id,
      sender: asha!.id,
      options: [1],
    });
    expect(await rs.request({ type: 'vote', group: g, target: seq, options: [1] })).toMatchObject({ type: 'ack', seq: seq + 2 });
    // A change replaces; the same vote again appends nothing; an empty one retracts.
    expect(await as.request({ type: 'vote', group: g, target: seq, options: [2] })).toMatchObject({ type: 'ack', seq: seq + 3 });
    const same = await as.request({ type: 'vote', group: g, target: seq, options: [2] });
    expect(same).toEqual({ type: 'ack', re: same.re, group: g });
    expect((await votes(asha!, g, seq)).body).toEqual({
      group: g,
      seq,
      closed: false,
      counts: [0, 1, 1],
      mine: [2],
      voters: [[], [ravi!.id], [asha!.id]],
      nextCursor: null,
    });
    expect(await rs.request({ type: 'vote', group: g, target: seq, options: [] })).toMatchObject({ type: 'ack', seq: seq + 4 });
    expect(await watcher.next((f) => f.type === 'event' && f.seq === seq + 4)).toMatchObject({
      kind: 'vote',
      voter: ravi!.id,
      options: [],
    });

    const history = await as.request({ type: 'history', group: g });
    expect(history.messages[0]).toMatchObject({
      seq,
      text: '',
      poll: {
        question: 'Which Saturday works?',
        options: ['5th', '12th', '19th'],
        multiple: false,
        closed: false,
        counts: [0, 0, 1],
        mine: [2],
      },
    });
    const viaHttp = await server.http('GET', `/v1/groups/${g}/messages`, { token: ravi!.token });
    expect(viaHttp.body.messages[0].poll).toMatchObject({ counts: [0, 0, 1], mine: [] });
    // HTTP votes too.
    expect(
      (await server.http('POST', `/v1/groups/${g}/messages/${seq}/vote`, { token: ravi!.token, body: { options: [0] } })).body,
    ).toMatchObject({
      group: g,
      seq: seq + 5,
    });
  });

  it('multiple choice takes several options; single choice exactly one; bad options and non-polls are clear errors', async () => {
    const [owner, asha] = await tokenUsers(server, 2, 'm');
    const g = await createGroup(server, owner!, [asha!]);
    const as = await open(asha!);
    const multi = await postPoll(owner!, g, { question: 'Which tasks?', options: ['Cook', 'Clean', 'Carry'], multiple: true });
    const single = await postPoll(owner!, g, { question: 'Yes or no?', options: ['Yes', 'No'] });
    const text = (await post(owner!, g, { text: 'plain' })).body.seq as number;
    expect(await as.request({ type: 'vote', group: g, target: multi, options: [2, 0] })).toMatchObject({ type: 'ack' });
    expect((await votes(asha!, g, multi)).body).toMatchObject({ counts: [1, 0, 1], mine: [0, 2] });

    const refused = async (cmd: Record<string, unknown>) => {
      const r = await as.request({ type: 'vote', group: g, ...cmd });
      expect(r.type).toBe('error');
      return r;
    };
    expect(await refused({ target: single, options: [0, 1] })).toMatchObject({
      code: 'bad_request',
      message: 'this poll takes one option',
    });
    // Out of range for this poll (2 options), and out of any poll's range.
    expect(await refused({ target: single, options: [2] })).toMatchObject({ code: 'bad_request', message: 'no such option' });
    expect(await refused({ target: multi, options: [12] })).toMatchObject({ code: 'bad_request' });
    expect(await refused({ target: multi, options: [-1] })).toMatchObject({ code: 'bad_request' });
    expect(await refused({ target: multi, options: [1, 1] })).toMatchObject({ code: 'bad_request' });
    expect(await refused({ target: text, options: [0] })).toMatchObject({ code: 'bad_request', message: 'message is not a poll' });
    expect(await refused({ target: 9999, options: [0] })).toMatchObject({ code: 'not_found' });
    expect((await votes(asha!, g, text)).status).toBe(400);
  });

  it('polls with 1 or 13 options, duplicate options, or with an event are refused (WS and HTTP); text may be empty', async () => {
    const [owner] = await tokenUsers(server, 1, 'o');
    const g = await createGroup(server, owner!);
    const s = await open(owner!);
    const options = (k: number) => Array.from({ length: k }, (_, i) => `option ${i}`);
    for (const poll of [
      { question: 'One?', options: options(1) },
      { question: 'Thirteen?', options: options(13) },
      { question: 'Twice?', options: ['A', 'A'] },
      { question: ' ', options: ['A', 'B'] },
      { question: 'Empty option?', options: ['A', ''] },
      { question: 'Long option?', options: ['A', 'x'.repeat(257)] },
    ]) {
      const http = await post(owner!, g, { poll });
      expect(http.status, JSON.stringify(poll)).toBe(400);
      expect(http.body.error.code).toBe('bad_request');
      const ws = await s.request({ type: 'send', group: g, clientMsgId: `w${n++}`, text: '', poll });
      expect(ws).toMatchObject({ type: 'error', code: 'bad_request' });
    }
    expect(await postPoll(owner!, g, { question: 'Twelve?', options: options(12) })).toBeGreaterThan(0);
    // Idempotent by clientMsgId: the same poll gets the first ack, another poll is a conflict.
    const body = { clientMsgId: `same${n++}`, text: '', poll: { question: 'Once?', options: ['A', 'B'] } };
    const first = await server.http('POST', `/v1/groups/${g}/messages`, { token: owner!.token, body });
    const again = await server.http('POST', `/v1/groups/${g}/messages`, { token: owner!.token, body });
    expect(again.body).toEqual(first.body);
    const other = await server.http('POST', `/v1/groups/${g}/messages`, {
      token: owner!.token,
      body: { ...body, poll: { question: 'Once?', options: ['A', 'C'] } },
    });
    expect(other.status).toBe(409);
    const both = await post(owner!, g, { poll: { question: 'Q', options: ['A', 'B'] }, event: { title: 'E', startsAt: inMs(60_000) } });
    expect(both.status).toBe(400);
  });

  it("closing: the author or an admin; a plain member closing another's poll is forbidden; a vote on a closed poll is a conflict", async () => {
    const [owner, author, plain] = await tokenUsers(server, 3, 'c');
    const g = await createGroup(server, owner!, [author!, plain!]);
    const ps = await open(plain!);
    const watcher = await open(owner!);
    const seq = await postPoll(author!, g, { question: 'Pizza?', options: ['Yes', 'No'] });
    expect(await ps.request({ type: 'vote', group: g, target: seq, options: [0] })).toMatchObject({ type: 'ack' });
    const close = (u: TestUser, s = seq) => server.http('POST', `/v1/groups/${g}/messages/${s}/close`, { token: u.token });
    const denied = await close(plain!);
    expect(denied).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const closed = await close(author!);
    expect(closed.status).toBe(200);
    expect(await watcher.next((f) => f.type === 'event' && f.seq === closed.body.seq)).toMatchObject({
      kind: 'poll_closed',
      target: seq,
      sender: author!.id,
      counts: [1, 0],
    });
    expect(await ps.request({ type: 'vote', group: g, target: seq, options: [1] })).toMatchObject({
      type: 'error',
      code: 'conflict',
      message: 'poll is closed',
    });
    expect((await close(owner!)).status).toBe(409);
    expect((await votes(plain!, g, seq)).body).toMatchObject({ closed: true, counts: [1, 0], mine: [0] });
    // The group's admin may close anyone's poll; the message itself says it is closed (sync shows it as it now stands).
    const other = await postPoll(author!, g, { question: 'Again?', options: ['Yes', 'No'] });
    expect((await close(owner!, other)).status).toBe(200);
    const synced = await ps.request({ type: 'sync', groups: { [g]: other - 1 } });
    expect(synced.groups[g].events[0]).toMatchObject({ seq: other, poll: { closed: true } });
    // A stranger finds nothing.
    const stranger = await tokenUser(server, 'stranger');
    expect((await close(stranger, other)).status).toBe(404);
  });

  it('a non-member voting, answering, reading votes or closing finds nothing (not_found), whatever the seq', async () => {
    const [owner, stranger] = await tokenUsers(server, 2, 'n');
    const g = await createGroup(server, owner!);
    const seq = await postPoll(owner!, g, { question: 'Q?', options: ['A', 'B'] });
    const ev = await postEvent(owner!, g, { title: 'Meeting', startsAt: inMs(3_600_000) });
    const ss = await open(stranger!);
    for (const target of [seq, ev, 9999]) {
      expect(await ss.request({ type: 'vote', group: g, target, options: [0] })).toMatchObject({
        type: 'error',
        code: 'not_found',
        message: 'group not found',
      });
      expect(await ss.request({ type: 'rsvp', group: g, target, answer: 'going' })).toMatchObject({
        type: 'error',
        code: 'not_found',
        message: 'group not found',
      });
      expect((await votes(stranger!, g, target)).status).toBe(404);
      expect((await rsvps(stranger!, g, target)).status).toBe(404);
      expect(
        (await server.http('POST', `/v1/groups/${g}/messages/${target}/vote`, { token: stranger!.token, body: { options: [0] } })).status,
      ).toBe(404);
    }
  });

  it('events: RSVP going/maybe/no with counts; rsvp events in ordinary groups; past events, bad times and past RSVPs are refused', async () => {
    const [owner, asha, ravi] = await tokenUsers(server, 3, 'e');
    const g = await createGroup(server, owner!, [asha!, ravi!]);
    const as = await open(asha!);
    const watcher = await open(owner!);
    const startsAt = '2099-12-05T09:00:00+05:30';
    const seq = await postEvent(owner!, g, {
      title: 'Clean-up',
      startsAt,
      endsAt: '2099-12-05T12:00:00+05:30',
      location: 'The old bridge',
    });
    expect(await watcher.next((f) => f.type === 'event' && f.seq === seq)).toMatchObject({
      event: { title: 'Clean-up', startsAt: '2099-12-05T03:30:00.000Z', endsAt: '2099-12-05T06:30:00.000Z', location: 'The old bridge' },
    });
    expect(await as.request({ type: 'rsvp', group: g, target: seq, answer: 'going' })).toMatchObject({ type: 'ack', seq: seq + 1 });
    expect(await watcher.next((f) => f.type === 'event' && f.seq === seq + 1)).toMatchObject({
      kind: 'rsvp',
      target: seq,
      user: asha!.id,
      answer: 'going',
    });
    expect(
      (await server.http('POST', `/v1/groups/${g}/messages/${seq}/rsvp`, { token: ravi!.token, body: { answer: 'maybe' } })).status,
    ).toBe(200);
    expect(await as.request({ type: 'rsvp', group: g, target: seq, answer: 'no' })).toMatchObject({ type: 'ack', seq: seq + 3 });
    expect((await rsvps(ravi!, g, seq)).body).toEqual({
      group: g,
      seq,
      counts: { going: 0, maybe: 1, no: 1 },
      mine: 'maybe',
      users: { going: [], maybe: [ravi!.id], no: [asha!.id] },
      nextCursor: null,
    });
    const history = await as.request({ type: 'history', group: g });
    expect(history.messages[0].event).toMatchObject({ title: 'Clean-up', counts: { going: 0, maybe: 1, no: 1 }, mine: 'no' });
    expect(await as.request({ type: 'rsvp', group: g, target: seq, answer: 'perhaps' })).toMatchObject({
      type: 'error',
      code: 'bad_request',
    });
    const poll = await postPoll(owner!, g, { question: 'Q?', options: ['A', 'B'] });
    expect(await as.request({ type: 'rsvp', group: g, target: poll, answer: 'going' })).toMatchObject({
      type: 'error',
      code: 'bad_request',
      message: 'message is not an event',
    });

    for (const event of [
      { title: 'Past', startsAt: inMs(-60_000) },
      { title: 'No offset', startsAt: '2099-12-05T09:00:00' },
      { title: 'Ends first', startsAt: inMs(3_600_000), endsAt: inMs(60_000) },
      { title: '', startsAt: inMs(3_600_000) },
      { title: 'Not a time', startsAt: 'saturday' },
    ]) {
      const r = await post(owner!, g, { event });
      expect(r.status, JSON.stringify(event)).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    }
    // An event that is over takes no answers.
    const soon = await postEvent(owner!, g, { title: 'Soon', startsAt: inMs(1500) });
    expect(await as.request({ type: 'rsvp', group: g, target: soon, answer: 'going' })).toMatchObject({ type: 'ack' });
    // Kept: about time, past the event's start.
    await sleep(1700);
    expect(await as.request({ type: 'rsvp', group: g, target: soon, answer: 'maybe' })).toMatchObject({
      type: 'error',
      code: 'conflict',
      message: 'the event is over',
    });
  });

  it('announcement group: votes and RSVPs are tallied (coalesced, nobody named); plain members and admins see counts, never voters', async () => {
    const [admin, ...members] = await tokenUsers(server, 9, 'a');
    const c = await community(admin!, members);
    const g = c.announcementGroupId;
    const spy = members[0]!;
    const spySocket = await open(spy);
    const seq = await postPoll(admin!, g, { question: 'Which Saturday?', options: ['5th', '12th'] });
    const ev = await postEvent(admin!, g, { title: 'Parents meeting', startsAt: inMs(3_600_000) });
    const voters = await Promise.all(members.map(open));
    // Eight votes and eight answers in a burst, and then some changes.
    const acks = await Promise.all(voters.map((s, i) => s.request({ type: 'vote', group: g, target: seq, options: [i % 2] })));
    for (const a of acks) expect(a).toEqual({ type: 'ack', re: a.re, group: g });
    await Promise.all(voters.map((s, i) => s.request({ type: 'rsvp', group: g, target: ev, answer: i < 5 ? 'going' : 'maybe' })));
    await voters[1]!.request({ type: 'vote', group: g, target: seq, options: [0] });
    await waitUntil(
      () => spySocket.frames.some((f) => f.kind === 'tally' && f.target === seq && f.counts[0] === 5),
      8000,
      'the poll tally with the final counts',
    );
    await waitUntil(
      () => spySocket.frames.some((f) => f.kind === 'tally' && f.target === ev && f.counts.maybe === 3),
      8000,
      'the event tally',
    );
    const tallies = spySocket.frames.filter((f) => f.type === 'event' && f.kind === 'tally');
    // 17 votes and 8 answers became a few tallies: at most one per message per interval.
    expect(tallies.length).toBeLessThanOrEqual(6);
    for (const t of tallies) expect(t.sender).toBe('');
    expect(tallies.find((t) => t.target === ev)!.counts).toEqual({ going: 5, maybe: 3, no: 0 });
    const log = JSON.stringify(spySocket.frames) + JSON.stringify(await spySocket.request({ type: 'sync', groups: { [g]: 0 } }));
    expect(log).not.toMatch(/"kind":"vote"|"kind":"rsvp"/);
    for (const m of members.slice(1)) expect(log).not.toContain(m.id);

    // Counts and one's own vote; asking for voters is refused, for plain members and admins alike.
    expect((await votes(spy, g, seq)).body).toEqual({ group: g, seq, closed: false, counts: [5, 3], mine: [0] });
    expect(await votes(spy, g, seq, '?voters=true')).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await votes(admin!, g, seq)).body).toEqual({ group: g, seq, closed: false, counts: [5, 3], mine: [] });
    expect((await votes(admin!, g, seq, '?voters=true')).status).toBe(403);
    expect((await rsvps(spy, g, ev)).body).toEqual({ group: g, seq: ev, counts: { going: 5, maybe: 3, no: 0 }, mine: 'going' });
    expect((await rsvps(spy, g, ev, '?users=true')).status).toBe(403);
    const history = await spySocket.request({ type: 'history', group: g });
    expect(JSON.stringify(history)).not.toContain(members[1]!.id);
    // A plain member closing the admin's poll: forbidden; the admin closes it.
    expect((await server.http('POST', `/v1/groups/${g}/messages/${seq}/close`, { token: spy.token })).status).toBe(403);
    expect((await server.http('POST', `/v1/groups/${g}/messages/${seq}/close`, { token: admin!.token })).status).toBe(200);
    expect(await spySocket.next((f) => f.kind === 'poll_closed')).toMatchObject({ target: seq, counts: [5, 3], sender: admin!.id });
    // The tallied path refuses a closed poll too (it knew the poll open before), and stores nothing.
    expect(await spySocket.request({ type: 'vote', group: g, target: seq, options: [1] })).toMatchObject({
      type: 'error',
      code: 'conflict',
      message: 'poll is closed',
    });
    expect((await votes(spy, g, seq)).body).toMatchObject({ counts: [5, 3], mine: [0] });
  });

  it('voter and RSVP lists are paged by cursor: every voter exactly once; the first page by default (docs/protocol.md §8)', async () => {
    const people = await tokenUsers(server, 8, 'pg');
    const owner = people[0]!;
    const g = await createGroup(server, owner, people.slice(1));
    const poll = await postPoll(owner, g, { question: 'Which tasks?', options: ['litter', 'paint', 'plant'], multiple: true });
    const event = await postEvent(owner, g, { title: 'Paint day', startsAt: '2099-06-01T09:00:00Z' });
    const answers = ['going', 'maybe', 'no'] as const;
    const expectedVoters: string[][] = [[], [], []];
    const expectedUsers: Record<string, string[]> = { going: [], maybe: [], no: [] };
    for (const [i, u] of people.entries()) {
      const options = [0, 1, 2].filter((o) => (i + o) % 2 === 0 || o === i % 3);
      for (const o of options) expectedVoters[o]!.push(u.id);
      const vote = await server.http('POST', `/v1/groups/${g}/messages/${poll}/vote`, { token: u.token, body: { options } });
      expect(vote.status).toBe(200);
      const answer = answers[i % 3]!;
      expectedUsers[answer]!.push(u.id);
      expect((await server.http('POST', `/v1/groups/${g}/messages/${event}/rsvp`, { token: u.token, body: { answer } })).status).toBe(200);
    }
    /** Pages through with `limit`, returning each page's users and the lists joined. */
    const pageAll = async <L>(
      get: (q: string) => Promise<{ status: number; body: any }>,
      list: (b: any) => L,
      usersOf: (l: L) => string[],
    ) => {
      const pages: string[][] = [];
      const lists: L[] = [];
      let cursor: string | null = null;
      do {
        const r = await get(`?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        lists.push(list(r.body));
        pages.push([...new Set(usersOf(list(r.body)))]);
        cursor = r.body.nextCursor;
        expect(pages.length).toBeLessThan(10);
      } while (cursor);
      return { pages, lists };
    };
    const sorted = (ids: string[]) => [...ids].sort();
    const v = await pageAll(
      (q) => votes(owner, g, poll, q),
      (b) => b.voters as string[][],
      (l) => l.flat(),
    );
    expect(v.pages.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(sorted(v.pages.flat())).toEqual(sorted(people.map((p) => p.id)));
    for (const o of [0, 1, 2]) expect(sorted(v.lists.flatMap((l) => l[o]!))).toEqual(sorted(expectedVoters[o]!));
    const r = await pageAll(
      (q) => rsvps(owner, g, event, q),
      (b) => b.users as Record<string, string[]>,
      (l) => Object.values(l).flat(),
    );
    expect(r.pages.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(sorted(r.pages.flat())).toEqual(sorted(people.map((p) => p.id)));
    for (const a of answers) expect(sorted(r.lists.flatMap((l) => l[a]!))).toEqual(sorted(expectedUsers[a]!));
    // Counts are the whole poll's on every page; without `limit` everyone fits in the first page.
    const whole = await votes(owner, g, poll);
    expect(whole.body).toMatchObject({ counts: expectedVoters.map((l) => l.length), nextCursor: null });
    expect(whole.body.voters.map((l: string[]) => sorted(l))).toEqual(expectedVoters.map(sorted));
    expect((await votes(owner, g, poll, '?limit=2')).body.counts).toEqual(expectedVoters.map((l) => l.length));
    for (const q of ['?limit=0', '?limit=501', `?cursor=${'x'.repeat(300)}`]) expect((await votes(owner, g, poll, q)).status, q).toBe(400);
    expect((await rsvps(owner, g, event, '?limit=501')).status).toBe(400);
  });

  it('a deleted poll takes its votes with it: gone from history, sync and GET votes', async () => {
    const [owner, asha] = await tokenUsers(server, 2, 'd');
    const g = await createGroup(server, owner!, [asha!]);
    const as = await open(asha!);
    const os = await open(owner!);
    const seq = await postPoll(owner!, g, { question: 'Delete me?', options: ['A', 'B'] });
    await as.request({ type: 'vote', group: g, target: seq, options: [0] });
    expect(await os.request({ type: 'delete', group: g, target: seq })).toMatchObject({ type: 'ack' });
    expect((await votes(asha!, g, seq)).status).toBe(404);
    expect(await as.request({ type: 'vote', group: g, target: seq, options: [1] })).toMatchObject({ type: 'error', code: 'conflict' });
    const history = await as.request({ type: 'history', group: g });
    expect(history.messages[0]).toMatchObject({ seq, deleted: true });
    expect(history.messages[0].poll).toBeUndefined();
    const synced = await as.request({ type: 'sync', groups: { [g]: seq - 1 } });
    expect(synced.groups[g].events[0].poll).toBeUndefined();
    expect(JSON.stringify(synced)).not.toContain('Delete me?');
  });

  it('SDK: sendPoll, vote, votes, closePoll, sendEvent, rsvp, rsvps, typed; refusals are BanyanErrors', async () => {
    const [owner, asha] = await tokenUsers(server, 2, 'sdk');
    const g = await createGroup(server, owner!, [asha!]);
    const clients = [owner!, asha!].map((u) => new BanyanClient({ url: server.url, token: u.token, WebSocket }));
    const [o, a] = clients as [BanyanClient, BanyanClient];
    const seen: GroupEvent[] = [];
    o.on('event', (e) => seen.push(e));
    try {
      await Promise.all([o.connect(), a.connect()]);
      const poll = await o.sendPoll(g, { question: 'Tea or coffee?', options: ['Tea', 'Coffee'] }, { text: 'Vote please' });
      const event = await o.sendEvent(g, { title: 'Shift', startsAt: inMs(3_600_000), location: 'Hall' });
      const ack = await a.vote(g, poll.seq, [1]);
      expect(ack.seq).toBe(event.seq + 1);
      await a.rsvp(g, event.seq, 'maybe');
      expect(await a.votes(g, poll.seq)).toEqual({
        group: g,
        seq: poll.seq,
        closed: false,
        counts: [0, 1],
        mine: [1],
        voters: [[], [asha!.id]],
        nextCursor: null,
      });
      expect(await o.rsvps(g, event.seq)).toMatchObject({ counts: { going: 0, maybe: 1, no: 0 }, mine: null });
      await expect(a.closePoll(g, poll.seq)).rejects.toMatchObject({ code: 'forbidden' });
      expect(await o.closePoll(g, poll.seq)).toMatchObject({ group: g, seq: event.seq + 3 });
      await expect(a.vote(g, poll.seq, [0])).rejects.toBeInstanceOf(BanyanError);
      await waitUntil(() => seen.some((e) => e.kind === 'poll_closed'), 5000, 'poll_closed at the SDK');
      const kinds = seen.filter((e) => e.seq >= poll.seq).map((e) => e.kind);
      expect(kinds).toEqual(['message', 'message', 'vote', 'rsvp', 'poll_closed']);
      const first = seen.find((e) => e.seq === poll.seq);
      expect(first?.kind === 'message' && first.poll).toEqual({ question: 'Tea or coffee?', options: ['Tea', 'Coffee'], multiple: false });
      const history = await a.history(g);
      expect(history.messages.find((m) => m.seq === poll.seq)!.poll).toMatchObject({ closed: true, counts: [0, 1], mine: [1] });
      expect(history.messages.find((m) => m.seq === event.seq)!.event).toMatchObject({ title: 'Shift', location: 'Hall', mine: 'maybe' });
    } finally {
      for (const c of clients) c.close();
    }
  });
});
