import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { tokenUser } from '../helpers/users.js';
import { waitUntil } from '../helpers/replicas.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §2 "Your data: export and erasure": a member's export (made by a job, downloaded
// once, expiring) and the erasure of their account, with the attacks of issue 29 as tests.

/** The entries of a zip archive (stored or deflated), by name: enough to read what the server wrote. */
function unzip(zip: Buffer): Map<string, Buffer> {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataAt, dataAt + compressed);
    entries.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

const word = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

describe.each(storageModes())('a member’s own data (%s)', (mode) => {
  let server: TestServer;
  const get = (user: TestUser, path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${user.token}` } });
  const post = async (user: TestUser, group: string, body: Record<string, unknown>) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, { token: user.token, body: { clientMsgId: word('c'), ...body } });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };
  const upload = async (user: TestUser, bytes: Buffer, name: string) => {
    const res = await fetch(`${server.url}/v1/attachments?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { attachment: { id: string } }).attachment.id;
  };
  const readyExport = async (user: TestUser) => {
    const asked = await server.http('POST', '/v1/me/exports', { token: user.token });
    expect(asked).toMatchObject({ status: 202, body: { export: { status: 'pending' } } });
    const id = asked.body.export.id as string;
    await waitUntil(
      async () => (await server.http('GET', `/v1/me/exports/${id}`, { token: user.token })).body.export.status === 'ready',
      60_000,
      'export ready',
    );
    return id;
  };

  beforeAll(async () => {
    server = await startServer({ mode, env: { EXPORT_RATE: '1/86400', SEARCH_RATE: '1000/1' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('export: everything the member wrote and is, made by a job, once, only to them', async () => {
    const asha = await server.signUp();
    const ben = await tokenUser(server, 'ben');
    const group = await createGroup(server, asha, [ben], 'Clean-up <crew>');
    const unique = word('pangolin');
    const seq = await post(asha, group, { text: `${unique} <script>alert(1)</script>` });
    const edited = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: asha.token,
      body: { clientMsgId: word('c'), text: 'x' },
    });
    const socket = await connect(server.wsUrl, asha.token);
    try {
      expect((await socket.request({ type: 'edit', id: 'e1', group, target: edited.body.seq, text: 'edited text' })).type).toBe('ack');
      expect((await socket.request({ type: 'react', id: 'r1', group, target: seq, emoji: '👍' })).type).toBe('ack');
    } finally {
      await socket.close();
    }
    const fileBytes = randomBytes(3000);
    const file = await upload(asha, fileBytes, '../notes.bin');
    await post(asha, group, { text: 'a file', attachments: [file] });

    const id = await readyExport(asha);
    // One at a time, and one a day.
    expect((await server.http('POST', '/v1/me/exports', { token: asha.token })).status).toBe(429);

    // Another member's export answers as an unknown one: status, download, guessed ids.
    const notFound = { status: 404, body: { error: { code: 'not_found' } } };
    expect(await server.http('GET', `/v1/me/exports/${id}`, { token: ben.token })).toMatchObject(notFound);
    expect(await server.http('GET', `/v1/me/exports/${id}/download`, { token: ben.token })).toMatchObject(notFound);
    expect(await server.http('GET', '/v1/me/exports/x_AAAAAAAAAAAAAAAA/download', { token: ben.token })).toMatchObject(notFound);
    expect(await server.http('GET', '/v1/me/exports/x_AAAAAAAAAAAAAAAA', { token: asha.token })).toMatchObject(notFound);

    const res = await get(asha, `/v1/me/exports/${id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const entries = unzip(Buffer.from(await res.arrayBuffer()));
    const data = JSON.parse(entries.get('data.json')!.toString('utf8'));
    expect(data.profile).toEqual([expect.objectContaining({ id: asha.id, name: asha.name })]);
    expect(data.account).toEqual([expect.objectContaining({ hasPassword: true })]);
    expect(JSON.stringify(data)).not.toMatch(/scrypt|passwordHash|\$argon/);
    expect(data.memberships).toEqual([expect.objectContaining({ groupId: group, groupName: 'Clean-up <crew>', role: 'owner' })]);
    expect(data.messages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ seq, kind: 'message', text: `${unique} <script>alert(1)</script>`, groupName: 'Clean-up <crew>' }),
        expect.objectContaining({ kind: 'edit', text: 'edited text', editOf: edited.body.seq }),
      ]),
    );
    expect(data.reactions).toEqual([expect.objectContaining({ messageSeq: seq, emoji: '👍' })]);
    expect(data.attachments).toEqual([expect.objectContaining({ id: file, name: '.._notes.bin', size: 3000 })]);
    expect(data.profile[0].createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(data.sessions.length).toBeGreaterThanOrEqual(1);
    // The file itself, under a name that stays in its folder.
    expect(entries.get(`files/${file}-__notes.bin`)).toEqual(fileBytes);
    for (const name of entries.keys()) expect(name).toMatch(/^(data\.json|index\.html|files\/[^/]+)$/);
    const html = entries.get('index.html')!.toString('utf8');
    expect(html).toContain('<h2>Your messages</h2>');
    expect(html).toContain(`${unique} &lt;script&gt;alert(1)&lt;/script&gt;`);
    expect(html).not.toMatch(/<script/i);

    // Once: a second download is gone.
    expect(await server.http('GET', `/v1/me/exports/${id}/download`, { token: asha.token })).toMatchObject({
      status: 410,
      body: { error: { code: 'gone' } },
    });
    expect((await server.http('GET', `/v1/me/exports/${id}`, { token: asha.token })).body.export.status).toBe('downloaded');
    // A server-scoped token is no member.
    const service = await server.token('svc', { scope: 'server' });
    expect((await server.http('POST', '/v1/me/exports', { token: service })).status).toBe(403);
  }, 120_000);

  it('erasure: the phrase and the password are required; a wrong one is refused', async () => {
    const asha = await server.signUp();
    const del = (body: unknown) => server.http('DELETE', '/v1/me', { token: asha.token, body });
    expect((await del({})).status).toBe(400);
    expect((await del({ confirm: 'delete my acount', password: 'password-123' })).status).toBe(400);
    expect(await del({ confirm: 'delete my account' })).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await del({ confirm: 'delete my account', password: 'wrong-password' })).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    // Nothing happened.
    expect((await server.http('GET', '/v1/me', { token: asha.token })).status).toBe(200);
  });

  it('erasure: out of every group, messages removed or anonymised as the community says, files, tokens and sign-in gone', async () => {
    const asha = await server.signUp();
    const ben = await tokenUser(server, 'ben');
    // Ben's community removes an erased member's messages; a plain group keeps them, anonymised.
    const community = await server.http('POST', '/v1/communities', {
      token: ben.token,
      body: { name: 'Parents', settings: { erasedMessages: 'remove' } },
    });
    expect(community.status).toBe(201);
    const c = community.body.community.id as string;
    const inside = await server.http('POST', `/v1/communities/${c}/groups`, { token: ben.token, body: { name: 'Class 5' } });
    const classGroup = inside.body.group.id as string;
    const invite = await server.http('POST', `/v1/communities/${c}/invites`, { token: ben.token, body: { groupId: classGroup } });
    expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: asha.token })).status).toBe(200);
    const plain = await createGroup(server, asha, [ben], 'Walkers');
    const direct = (await server.http('POST', '/v1/direct', { token: asha.token, body: { userId: ben.id } })).body.group.id as string;

    const removedWord = word('zebra');
    const keptWord = word('quokka');
    const directWord = word('okapi');
    const removedSeq = await post(asha, classGroup, { text: `${removedWord} in class` });
    const keptSeq = await post(asha, plain, { text: `${keptWord} walk` });
    await post(asha, direct, { text: `${directWord} secret` });
    const file = await upload(asha, randomBytes(500), 'photo.bin');
    await post(asha, plain, { text: 'with a file', attachments: [file] });
    expect((await get(ben, `/v1/attachments/${file}`)).status).toBe(200);
    expect((await server.http('GET', `/v1/users/${asha.id}`, { token: ben.token })).status).toBe(200);

    const mine = await connect(server.wsUrl, asha.token);
    const bens: TestSocket = await connect(server.wsUrl, ben.token);
    try {
      const closed = mine.closed;
      expect(
        (await server.http('DELETE', '/v1/me', { token: asha.token, body: { confirm: 'delete my account', password: 'password-123' } }))
          .status,
      ).toBe(202);
      expect((await closed).code).toBe(4403);
      // Ben sees her leave, as leaving does.
      await bens.next((f) => f.type === 'event' && f.group === plain && f.kind === 'member' && f.action === 'left', 30_000);
      await bens.next((f) => f.type === 'expired' && f.group === classGroup && f.seqs.includes(removedSeq), 30_000);
    } finally {
      await mine.close().catch(() => {});
      await bens.close();
    }

    // Her token and her password no longer work; signing in answers as for an unknown username.
    expect((await server.http('GET', '/v1/me', { token: asha.token })).status).toBe(401);
    const signIn = await server.http('POST', '/v1/sessions', { body: { username: asha.name, password: 'password-123' } });
    const unknown = await server.http('POST', '/v1/sessions', { body: { username: `${asha.name}zz`, password: 'password-123' } });
    expect(signIn.status).toBe(401);
    expect(signIn.body).toEqual(unknown.body);

    const members = async (group: string) =>
      ((await server.http('GET', `/v1/groups/${group}/members`, { token: ben.token })).body.members as { userId: string }[]).map(
        (m) => m.userId,
      );
    await waitUntil(async () => !(await members(plain)).includes(asha.id), 60_000, 'erasure done');
    await waitUntil(async () => (await get(ben, `/v1/attachments/${file}`)).status === 404, 60_000, 'file erased');
    expect(await members(classGroup)).not.toContain(asha.id);

    const history = async (group: string) =>
      (await server.http('GET', `/v1/groups/${group}/messages`, { token: ben.token })).body.messages as Record<string, unknown>[];
    // Removed: the seq stays (the log is gapless), the content and the author do not.
    const removed = (await history(classGroup)).find((m) => m.seq === removedSeq)!;
    expect(removed).toMatchObject({ sender: '', text: null, expired: true });
    // Anonymised: the text stays, the author does not.
    expect((await history(plain)).find((m) => m.seq === keptSeq)).toMatchObject({ sender: '', text: `${keptWord} walk` });
    // Direct chats: removed.
    expect(JSON.stringify(await history(direct))).not.toContain(directWord);

    const search = async (q: string) =>
      (await server.http('GET', `/v1/search?q=${q}`, { token: ben.token })).body.results as { sender: string }[];
    expect(await search(removedWord)).toEqual([]);
    expect(await search(directWord)).toEqual([]);
    for (const hit of await search(keptWord)) expect(hit.sender).toBe('');
    // Her profile is served to no one.
    expect((await server.http('GET', `/v1/users/${asha.id}`, { token: ben.token })).status).toBe(404);
  }, 180_000);
});

describe('an export expires and is deleted', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { EXPORT_TTL_S: '1' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('past EXPORT_TTL_S: status expired, download gone, archive deleted from the blob store', async () => {
    const asha = await server.signUp();
    const asked = await server.http('POST', '/v1/me/exports', { token: asha.token });
    const id = asked.body.export.id as string;
    const blobs = join(server.app.config.storage.dataDir, 'blobs', 'x');
    await waitUntil(async () => existsSync(join(blobs, `${id}.zip`)), 60_000, 'archive stored');
    await waitUntil(
      async () => (await server.http('GET', `/v1/me/exports/${id}`, { token: asha.token })).body.export.status === 'expired',
      60_000,
      'expired',
    );
    expect((await server.http('GET', `/v1/me/exports/${id}/download`, { token: asha.token })).status).toBe(410);
    await waitUntil(async () => !existsSync(blobs) || readdirSync(blobs).length === 0, 60_000, 'archive deleted');
  }, 120_000);
});
