import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { seededRandom } from '../helpers/random.js';
import { range, sleep, tokenUsers } from '../helpers/users.js';
import { connect, open, type Frame, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §1 "Bad input is answered, never fatal", the docs/protocol.md §4 error table and close codes.

const errorCodes = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'too_large', 'rate_limited', 'unavailable'];
const serverFrameTypes = new Set([
  'ready',
  'ack',
  'error',
  'event',
  'typing',
  'synced',
  'history',
  'pong',
  'read',
  'group_added',
  'group_removed',
  // The fuzzing users share a small group: they see each other come online.
  'presence',
]);

/** Sends a raw body with an explicit content-length or none at all (chunked). */
function rawPost(url: string, path: string, body: Buffer, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 1000) req.write(body.subarray(i, i + 1000));
      req.end();
    } else req.end(body);
  });
}

describe.each(storageModes())('bad input (%s)', (mode) => {
  let server: TestServer;
  let owner: TestUser;
  let group: string;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => {
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startServer({
      mode,
      env: {
        MAX_FRAME_BYTES: '8192',
        MAX_BODY_BYTES: '4096',
        MAX_TEXT_CHARS: '100',
        AUTH_TIMEOUT_MS: '300',
        SYNC_LIMIT: '10',
        RATE_LIMIT_BURST: '1000000',
        RATE_LIMIT_PER_S: '1000000',
      },
    });
    owner = (await tokenUsers(server, 1, 'bad'))[0]!;
    group = await createGroup(server, owner!);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });

  it('answers malformed JSON, non-objects, unknown types and wrong field types with bad_request (details list the fields)', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    for (const frame of ['{not json', '', '[]', '1', '"send"', 'null', '{}', '{"type":1}']) {
      s.send(frame);
      const reply = await s.next((f) => f.type === 'error', 2000, s.frames.length);
      expect(reply, frame).toMatchObject({ type: 'error', code: 'bad_request' });
      expect(reply.re).toBeUndefined();
    }
    for (const type of ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(await s.request({ type, id: `u-${type}` }), type).toMatchObject({
        type: 'error',
        re: `u-${type}`,
        code: 'bad_request',
        message: `unknown type "${type}"`,
      });
    }
    const wrong = await s.request({ type: 'send', id: 7, group: 1, clientMsgId: ['x'], text: { t: 1 }, replyTo: 'one', mentions: 'all' });
    expect(wrong).toMatchObject({ type: 'error', re: 7, code: 'bad_request' });
    expect(wrong.details.issues.map((i: Frame) => i.path).sort()).toEqual(['clientMsgId', 'group', 'mentions', 'replyTo', 'text']);
    for (const [command, path] of [
      [{ type: 'send', group, clientMsgId: 'c'.repeat(65), text: 'hi' }, 'clientMsgId'],
      [{ type: 'send', group, clientMsgId: '', text: 'hi' }, 'clientMsgId'],
      [{ type: 'history', group, limit: 0 }, 'limit'],
      [{ type: 'history', group, limit: 101 }, 'limit'],
      [{ type: 'read', group, seq: -1 }, 'seq'],
      [{ type: 'sync', groups: { [group]: 1.5 } }, `groups.${group}`],
      [{ type: 'edit', group, target: 2 ** 53, text: 'x' }, 'target'],
    ] as const) {
      const r = await s.request(command);
      expect(r, JSON.stringify(command)).toMatchObject({ type: 'error', code: 'bad_request' });
      expect(new Set(r.details.issues.map((i: Frame) => i.path)), JSON.stringify(command)).toEqual(new Set([path]));
    }
    const missing = await s.request({ type: 'react', group, target: 0 });
    expect(missing.details.issues.map((i: Frame) => i.path).sort()).toEqual(['emoji', 'target']);
    // The socket still works.
    expect(await s.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('a frame whose type is not a short string but whose id is valid: the error carries re (docs/protocol.md §6)', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    const badTypes: unknown[] = [1, null, '', 'x'.repeat(33), { a: 1 }, ['send'], true];
    for (const [i, type] of badTypes.entries()) {
      for (const id of [`t-${i}`, 1000 + i]) {
        s.send(JSON.stringify({ type, id }));
        expect(await s.next((f) => f.type === 'error' && f.re === id), JSON.stringify({ type, id })).toMatchObject({ code: 'bad_request' });
      }
    }
    // A missing type too; an invalid id is not echoed.
    expect(await s.request({ group })).toMatchObject({ type: 'error', code: 'bad_request' });
    s.send(JSON.stringify({ type: 1, id: 'x'.repeat(65) }));
    const unechoed = await s.next((f) => f.type === 'error', 2000, s.frames.length);
    expect(unechoed.re).toBeUndefined();
    expect(await s.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('enforces text length after trimming, counted in characters (MAX_TEXT_CHARS=100)', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    for (const text of ['', '   \n\t ', 'x'.repeat(101), '🌳'.repeat(101)]) {
      const r = await s.request({ type: 'send', group, clientMsgId: `t${text.length}`, text });
      expect(r, JSON.stringify(text)).toMatchObject({ type: 'error', code: 'bad_request', details: { issues: [{ path: 'text' }] } });
    }
    expect(await s.request({ type: 'send', group, clientMsgId: 'ok100', text: `  ${'🌳'.repeat(100)}  ` })).toMatchObject({ type: 'ack' });
    const http = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: owner.token,
      body: { clientMsgId: 'long', text: 'y'.repeat(101) },
    });
    expect(http.status).toBe(400);
    expect(http.body.error).toMatchObject({ code: 'bad_request', details: { issues: [{ path: 'text' }] } });
  });

  it('refuses text PostgreSQL cannot store as sent (NUL, lone surrogates) with bad_request, not internal', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    const cases: Frame[] = [
      { type: 'send', group, clientMsgId: 'nul', text: 'a\u0000b' },
      { type: 'send', group, clientMsgId: 'lone\ud800', text: 'hi' },
      { type: 'send', group, clientMsgId: 'm', text: 'hi', mentions: ['x\u0000'] },
      { type: 'history', group: `${group}\u0000` },
      { type: 'react', group, target: 1, emoji: '\udc00' },
    ];
    for (const command of cases)
      expect(await s.request(command), JSON.stringify(command)).toMatchObject({ type: 'error', code: 'bad_request' });
    const http = await server.http('POST', '/v1/sessions', { body: { username: 'a\u0000b', password: 'password-123' } });
    expect(http.status).toBe(400);
    const param = await server.http('GET', `/v1/groups/${encodeURIComponent(`${group}\u0000`)}`, { token: owner.token });
    expect(param.status).toBe(404);
  });

  it('refuses control characters in message text (six bytes each once escaped), keeps tabs and line breaks', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    for (const text of ['a\u0001b', '\u001b[31mred', 'x\u007f', 'c1\u0085']) {
      const reply = await s.request({ type: 'send', group, clientMsgId: `ctl-${text.length}-${text.codePointAt(1)}`, text });
      expect(reply, JSON.stringify(text)).toMatchObject({ type: 'error', code: 'bad_request' });
    }
    const http = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: owner.token,
      body: { clientMsgId: 'ctl-http', text: 'bell\u0007' },
    });
    expect(http.status).toBe(400);
    const fine = await s.request({ type: 'send', group, clientMsgId: 'ctl-ok', text: 'line one\n\tline two\r\n' });
    expect(fine).toMatchObject({ type: 'ack' });
  });

  it('closes a frame over MAX_FRAME_BYTES with 1009, also far over it', async () => {
    for (const size of [8193, 100_000]) {
      const s = track(await connect(server.wsUrl, owner.token));
      s.send(JSON.stringify({ type: 'send', id: 1, group, clientMsgId: 'big', text: 'x'.repeat(size) }));
      expect((await s.closed).code, String(size)).toBe(1009);
    }
    // Known limit: past uWS's own cap (16 × MAX_FRAME_BYTES, so a huge frame is never buffered)
    // uWS drops the connection without a close frame (1006). It is cut, and nothing else suffers.
    const huge = track(await connect(server.wsUrl, owner.token));
    huge.send('x'.repeat(16 * 8192 + 1));
    expect([1006, 1009]).toContain((await huge.closed).code);
    // A frame right at the limit is answered.
    const s = track(await connect(server.wsUrl, owner.token));
    const frame = JSON.stringify({ type: 'ping', id: 'edge', pad: '' });
    s.send(frame.replace('"pad":""', `"pad":"${'p'.repeat(8192 - frame.length)}"`));
    expect(await s.next((f) => f.re === 'edge')).toMatchObject({ type: 'pong' });
  });

  it('authentication by frame: 4408 without an auth frame in time, 4401 for a bad token or another first frame', async () => {
    const silent = track(await open(server.wsUrl));
    const started = Date.now();
    expect((await silent.closed).code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(3000);

    const bad = track(await open(server.wsUrl));
    bad.send({ type: 'auth', id: 'a1', token: 'not.a.jwt' });
    expect(await bad.next((f) => f.re === 'a1')).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await bad.closed).code).toBe(4401);

    for (const first of [{ type: 'ping', id: 'p' }, '{oops']) {
      const s = track(await open(server.wsUrl));
      s.send(first);
      expect((await s.closed).code).toBe(4401);
    }

    // A good auth frame, with commands pipelined before `ready`: answered, never fatal.
    const good = track(await open(server.wsUrl));
    good.send({ type: 'auth', id: 'a2', token: owner.token });
    good.send({ type: 'send', id: 'early', group, clientMsgId: 'early', text: 'too early?' });
    const ready = await good.next((f) => f.type === 'ready');
    expect(ready).toMatchObject({ re: 'a2', user: { id: owner.id } });
    const early = await good.next((f) => f.re === 'early');
    expect(['ack', 'error']).toContain(early.type);
    if (early.type === 'error') expect(early.code).toBe('unauthorized');
    // A later auth frame renews the socket's token (docs/protocol.md §3): its own session's is taken;
    // a bad one is refused and, like any bad frame after `ready`, is not fatal (the send below is answered).
    expect(await good.request({ type: 'auth', token: owner.token })).toMatchObject({ type: 'ack' });
    expect(await good.request({ type: 'auth', token: 'not.a.jwt' })).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(await good.request({ type: 'send', group, clientMsgId: 'after-ready', text: 'fine' })).toMatchObject({ type: 'ack' });
  });

  it('refuses a bad header token with HTTP 401 before the upgrade', async () => {
    for (const authorization of ['Bearer nope', 'Bearer ', 'Basic abc', `Bearer ${owner.token}x`]) {
      await expect(open(server.wsUrl, { headers: { authorization } }), authorization).rejects.toThrow('unexpected response 401');
    }
  });

  it('HTTP: bad JSON and invalid bodies 400 with details, bodies over MAX_BODY_BYTES 413, unknown endpoints 404, no token 401', async () => {
    const badJson = await server.http('POST', '/v1/groups', { token: owner.token, raw: '{"name":' });
    expect(badJson).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const invalid = await server.http('POST', '/v1/groups', { token: owner.token, body: { name: 5, members: 'x' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.issues.map((i: Frame) => i.path).sort()).toEqual(['members', 'name']);
    const notObject = await server.http('POST', `/v1/groups/${group}/messages`, { token: owner.token, raw: '[1,2]' });
    expect(notObject).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const badQuery = await server.http('GET', `/v1/groups/${group}/messages?limit=1000`, { token: owner.token });
    expect(badQuery).toMatchObject({ status: 400, body: { error: { code: 'bad_request', details: { issues: [{ path: 'limit' }] } } } });

    const big = Buffer.from(JSON.stringify({ name: 'n', description: 'd'.repeat(5000) }));
    for (const chunked of [false, true]) {
      const r = await rawPost(server.url, '/v1/groups', big, chunked);
      expect({ chunked, status: r.status, code: JSON.parse(r.body).error.code }).toEqual({ chunked, status: 413, code: 'too_large' });
    }
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['POST', '/v1/groups/x/y/z'],
      ['PUT', '/v1/groups'],
      ['GET', '/v2/groups'],
    ]) {
      const r = await server.http(method!, path!, { token: owner.token });
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
    }
    for (const path of ['/v1/groups/%ZZ', '/v1/groups/%E0%A4%A/messages', `/v1/groups/${group}/messages/%ZZ/receipts`]) {
      expect((await server.http('GET', path, { token: owner.token })).status, path).toBe(404);
    }
    expect(await server.http('GET', '/v1/me')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await server.http('GET', '/v1/me', { token: 'garbage' })).status).toBe(401);
    expect((await server.http('GET', '/healthz')).status).toBe(200);
  });

  it('fuzz: 10,000 random and mutated frames from 5 sockets at once leave the gateway serving everyone', { timeout: 120_000 }, async () => {
    const users = await tokenUsers(server, 5, 'fuzz');
    const fuzzGroup = await createGroup(server, users[0]!, users.slice(1));
    const fuzzers = await Promise.all(users.map(async (u) => track(await connect(server.wsUrl, u.token))));
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const rand = seededRandom(seed);
    const before = (await server.http('GET', `/v1/groups/${fuzzGroup}`, { token: users[0]!.token })).body.group.lastSeq as number;

    const perSocket = 2000;
    fuzzers.forEach((s, i) => {
      for (let n = 0; n < perSocket; n++) {
        const frame = fuzzFrame(rand, fuzzGroup, `${i}-${n}`);
        s.ws.send(frame, { binary: typeof frame !== 'string' });
      }
    });
    // Each socket's ping goes after its fuzz: once all are answered and things go quiet, all was read.
    // Slow is fine (PGlite on a busy machine); stuck is not: fail once nothing arrives for 10 s.
    const done = Promise.all(fuzzers.map((s) => s.request({ type: 'ping', id: 'done' }, 100_000)));
    await Promise.race([
      done,
      stalled(fuzzers, 10_000).then(() => Promise.reject(new Error(`the gateway stopped answering (FUZZ_SEED=${seed})`))),
    ]);
    await quiet(fuzzers, 300);

    for (const [i, s] of fuzzers.entries()) {
      const context = `socket ${i}, FUZZ_SEED=${seed}`;
      expect(s.ws.readyState, context).toBe(s.ws.OPEN);
      const strange = s.frames.filter((f) => !serverFrameTypes.has(f.type));
      expect(strange, context).toEqual([]);
      const badErrors = s.frames.filter((f) => f.type === 'error' && !errorCodes.includes(f.code));
      expect(badErrors, context).toEqual([]);
      // Even under fuzz every socket saw the group's log in order, without gaps.
      const seqs = s.events(fuzzGroup).map((e) => e.seq as number);
      expect(seqs, context).toEqual(range(before + 1, before + seqs.length));
    }
    // Still serving: an old socket and a fresh one can send and receive.
    const fresh = track(await connect(server.wsUrl, users[1]!.token));
    const ack = await fresh.request({ type: 'send', group: fuzzGroup, clientMsgId: `after-fuzz-${seed}`, text: 'still here' });
    expect(ack.type).toBe('ack');
    await fuzzers[0]!.next((f) => f.type === 'event' && f.seq === ack.seq);
    const ack2 = await fuzzers[2]!.request({ type: 'send', group: fuzzGroup, clientMsgId: `old-${seed}`, text: 'me too' });
    await fresh.next((f) => f.type === 'event' && f.seq === ack2.seq);
    expect((await server.http('GET', '/healthz')).status).toBe(200);
  });
});

describe('rate limiting', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { RATE_LIMIT_BURST: '5', RATE_LIMIT_PER_S: '2' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers rate_limited with details.retryAfterMs past the burst, then closes a flooding socket with 4429', async () => {
    const [user] = await tokenUsers(server, 1, 'rate');
    const s = await connect(server.wsUrl, user!.token);
    for (const i of range(1, 5)) s.send({ type: 'ping', id: `p${i}` });
    s.send({ type: 'ping', id: 'p6' });
    const limited = await s.next((f) => f.type === 'error');
    // The reply names the refused command, so the client knows what to send again.
    expect(limited).toMatchObject({ re: 'p6', code: 'rate_limited', details: { retryAfterMs: 500 } });
    expect(s.frames.filter((f) => f.type === 'pong').map((f) => f.re)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    // After waiting as told, commands are taken again.
    // Kept: about time, the socket's bucket refills.
    await sleep(limited.details.retryAfterMs + 50);
    expect(await s.request({ type: 'ping', id: 'later' })).toMatchObject({ type: 'pong' });
    // Flooding: refused frames pile up past the burst and the socket is cut.
    for (let i = 0; i < 50; i++) s.send({ type: 'ping', id: `f${i}` });
    expect((await s.closed).code).toBe(4429);
    const other = await connect(server.wsUrl, user!.token);
    expect(await other.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    other.terminate();
  });
});

/** Resolves when no socket has received a frame for `ms` (polling every second). */
async function stalled(sockets: TestSocket[], ms: number) {
  let count = -1;
  let since = Date.now();
  for (;;) {
    await sleep(1000);
    const now = sockets.reduce((n, s) => n + s.frames.length, 0);
    if (now !== count) [count, since] = [now, Date.now()];
    else if (Date.now() - since >= ms) return;
    if (sockets.every((s) => s.frames.some((f) => f.re === 'done'))) return new Promise<never>(() => {});
  }
}

/** Resolves once no socket received a frame for `ms`. */
async function quiet(sockets: TestSocket[], ms: number) {
  for (let last = -1; ; ) {
    const now = sockets.reduce((n, s) => n + s.frames.length, 0);
    if (now === last) return;
    last = now;
    await sleep(ms);
  }
}

const oddStrings = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff',
  'x\u0000y',
  '🌳',
  '‮rtl',
  '\u2028',
  'é'.normalize('NFD'),
  '__proto__',
  'constructor',
  'prototype',
  'a'.repeat(70),
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\\',
  '"',
  '{}',
];
const oddNumbers = [0, -1, 1.5, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE, 4294967297];

function fuzzFrame(rand: () => number, group: string, tag: string): string | Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const oddValue = (depth = 0): unknown => {
    switch (Math.floor(rand() * 9)) {
      case 0:
        return pick(oddStrings);
      case 1:
        return pick(oddNumbers);
      case 2:
        return rand() < 0.5;
      case 3:
        return null;
      case 4:
        return depth < 3 ? [oddValue(depth + 1), oddValue(depth + 1)] : [];
      case 5:
        return depth < 3 ? { [pick(oddStrings)]: oddValue(depth + 1), __proto__x: 1 } : {};
      case 6:
        return group;
      case 7:
        return Math.floor(rand() * 40);
      default:
        return String.fromCharCode(...Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * 0xffff)));
    }
  };
  const valid = (): Frame => {
    const target = 1 + Math.floor(rand() * 30);
    return pick<Frame>([
      { type: 'send', group, clientMsgId: `f${tag}`, text: `fuzz ${tag}`, replyTo: target, mentions: [] },
      { type: 'edit', group, target, text: 'edited by fuzz' },
      { type: 'delete', group, target },
      { type: 'react', group, target, emoji: pick(['👍', null, '🌳']) },
      { type: 'read', group, seq: target },
      { type: 'typing', group },
      { type: 'sync', groups: { [group]: target } },
      { type: 'history', group, before: target, limit: 5 },
      { type: 'ping' },
      { type: 'auth', token: 'x' },
    ]);
  };
  const kind = rand();
  if (kind < 0.08) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
  if (kind < 0.12) {
    const depth = 1 + Math.floor(rand() * 3000);
    return rand() < 0.5
      ? '['.repeat(depth) + ']'.repeat(depth)
      : `${'{"a":'.repeat(Math.min(depth, 1300))}1${'}'.repeat(Math.min(depth, 1300))}`;
  }
  if (kind < 0.16)
    return `{"type":"send","id":"${tag}","group":"${group}","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"clientMsgId":"p${tag}","text":"proto"}`;
  const command: Frame = { ...valid(), id: rand() < 0.9 ? tag : oddValue() };
  if (kind < 0.18) return JSON.stringify(command); // valid (mostly), for load and real state
  // Mutations hit the fields the schema reads (the first never only the id), and add odd extras.
  const keys = Object.keys(command);
  const mutations = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < mutations; m++) {
    const key = m === 0 ? pick(keys.filter((k) => k !== 'id')) : pick(keys);
    const how = rand();
    if (how < 0.3) delete command[key];
    else if (how < 0.8) command[key] = oddValue();
    else command[pick(oddStrings)] = oddValue();
  }
  const text = JSON.stringify(command);
  // Truncated or corrupted JSON now and then.
  if (rand() < 0.1) return text.slice(0, Math.floor(rand() * text.length));
  return text;
}

// `Object.prototype` must come out of all this untouched.
afterAll(() => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).x).toBeUndefined();
});
