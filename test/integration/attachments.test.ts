import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachments as attachmentsTable } from '../../src/platform/db/schema.js';
import { startS3 } from '../helpers/s3.js';
import { createGroup, startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { waitUntil } from '../helpers/replicas.js';
import { tokenUsers } from '../helpers/users.js';
import { connect } from '../helpers/ws-client.js';

// docs/protocol.md §8 "Files (attachments)": streamed uploads, type checks, image cleaning, access, Range, sweeping.

const MAX = 300_000;

/** A photo as a phone takes it: EXIF with a camera owner and GPS position. */
const photo = () =>
  sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3a7' } })
    .jpeg()
    .withExif({ IFD0: { Artist: 'Asha Volunteer', Copyright: 'secret' }, IFD3: { GPSLatitudeRef: 'N', GPSLongitudeRef: 'E' } })
    .toBuffer();
const png = () =>
  sharp({ create: { width: 40, height: 30, channels: 4, background: '#f00' } })
    .png()
    .toBuffer();

interface UploadResult {
  status: number;
  body: any;
}

async function upload(server: TestServer, user: TestUser, data: Buffer, type: string, name = 'file.bin'): Promise<UploadResult> {
  const res = await fetch(`${server.url}/v1/attachments?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': type },
    body: data,
  });
  return { status: res.status, body: await res.json() };
}

const get = (server: TestServer, user: TestUser, path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${user.token}`, ...headers } });

const stagingFiles = (server: TestServer) => {
  const root = join(server.app.config.storage.dataDir, 'uploads');
  return readdirSync(root).flatMap((dir) => readdirSync(join(root, dir)));
};

const rowsOf = async (server: TestServer, userId: string) =>
  server.app.storage.db.select().from(attachmentsTable).where(eq(attachmentsTable.uploaderId, userId));

/** Streams `chunks` chunks of `size` bytes with chunked encoding (no content-length); resolves with the status. */
function chunkedUpload(server: TestServer, user: TestUser, chunks: number, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/v1/attachments?name=big.bin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    // The server may close mid-stream before this side reads its 413: a reset is the same refusal.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve(-1) : reject(err)));
    let sent = 0;
    const next = () => {
      if (req.destroyed) return;
      if (sent++ >= chunks) return void req.end();
      req.write(Buffer.alloc(size, 2), () => setImmediate(next));
    };
    next();
  });
}

/** Sends the first `sent` of `declared` bytes, then drops the connection; resolves when it is closed. */
function abortedUpload(server: TestServer, user: TestUser, declared: number, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${server.url}/v1/attachments?name=cut.bin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/octet-stream', 'content-length': String(declared) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(Buffer.alloc(sent, 7), () => setTimeout(() => req.destroy(), 100));
  });
}

function suite(label: string, mode: 'pglite' | 'postgres', storageUrl?: () => Promise<{ url: string; stop(): Promise<void> }>) {
  describe(`attachments (${label})`, () => {
    let server: TestServer;
    let alice: TestUser, bob: TestUser, carol: TestUser;
    let group: string;
    let stopS3 = async () => {};

    beforeAll(async () => {
      const s3 = storageUrl ? await storageUrl() : undefined;
      if (s3) stopS3 = s3.stop;
      server = await startServer({
        mode,
        env: { MAX_UPLOAD_BYTES: String(MAX), UPLOAD_QUOTA_BYTES: String(2_000_000), ...(s3 ? { STORAGE_URL: s3.url } : {}) },
      });
      [alice, bob, carol] = (await tokenUsers(server, 3, 'att')) as [TestUser, TestUser, TestUser];
      group = await createGroup(server, alice, [bob]);
    });
    afterAll(async () => {
      await server?.stop();
      await stopS3();
    });

    const post = (user: TestUser, body: Record<string, unknown>) =>
      server.http('POST', `/v1/groups/${group}/messages`, { token: user.token, body: { clientMsgId: `c-${Math.random()}`, ...body } });

    it('an image: dimensions, blurhash, a WebP thumbnail ≤ 320 px, served without EXIF or GPS', async () => {
      const r = await upload(server, alice, await photo(), 'image/jpeg', 'park clean-up.jpg');
      expect(r.status).toBe(201);
      expect(r.body.attachment).toMatchObject({ name: 'park clean-up.jpg', contentType: 'image/jpeg', width: 1200, height: 800 });
      expect(r.body.attachment.blurhash).toMatch(/^[0-9A-Za-z#$%*+,-.:;=?@[\]^_{|}~]{20,}$/);
      const id = r.body.attachment.id as string;
      const res = await get(server, alice, `/v1/attachments/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="park clean-up.jpg"/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.length).toBe(r.body.attachment.size);
      const meta = await sharp(bytes).metadata();
      expect(meta.exif).toBeUndefined();
      expect(bytes.includes(Buffer.from('Asha Volunteer'))).toBe(false);
      const thumb = await get(server, alice, `/v1/attachments/${id}/thumbnail`);
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/webp');
      const t = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
      expect([t.format, t.width, t.height]).toEqual(['webp', 320, 213]);
    });

    it('Range: a slice with 206 and content-range, a suffix, and 416 past the end', async () => {
      const data = Buffer.from('0123456789'.repeat(100));
      const r = await upload(server, alice, data, 'text/plain', 'notes.txt');
      expect(r.status).toBe(201);
      const id = r.body.attachment.id;
      const part = await get(server, alice, `/v1/attachments/${id}`, { range: 'bytes=10-19' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
      expect(await part.text()).toBe('0123456789');
      const tail = await get(server, alice, `/v1/attachments/${id}`, { range: 'bytes=-3' });
      expect([tail.status, await tail.text()]).toEqual([206, '789']);
      const past = await get(server, alice, `/v1/attachments/${id}`, { range: 'bytes=5000-' });
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe('bytes */1000');
      // Not a media type: a download, never shown inline.
      const whole = await get(server, alice, `/v1/attachments/${id}`);
      expect(whole.headers.get('content-disposition')).toMatch(/^attachment; /);
    });

    it('refuses a declared type the bytes contradict, and media types the bytes do not confirm', async () => {
      const p = await png();
      expect(await upload(server, alice, p, 'image/jpeg')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
      expect((await upload(server, alice, p, 'text/plain')).status).toBe(400);
      expect((await upload(server, alice, Buffer.from('just words'), 'image/png')).status).toBe(400);
      expect((await upload(server, alice, Buffer.from('just words'), 'application/pdf')).status).toBe(400);
      expect((await upload(server, alice, Buffer.from('just words'), 'audio/mpeg')).status).toBe(400);
      expect((await upload(server, alice, Buffer.from('x'), 'not a type')).status).toBe(400);
      // Unknown to the sender: the sniffed type is kept.
      expect((await upload(server, alice, p, 'application/octet-stream')).body.attachment).toMatchObject({ contentType: 'image/png' });
    });

    it('a polyglot (a JPEG with HTML after it) is refused as HTML, and as a JPEG served re-encoded without the HTML', async () => {
      const polyglot = Buffer.concat([await photo(), Buffer.from('<html><script>alert(document.cookie)</script></html>')]);
      expect((await upload(server, alice, polyglot, 'text/html')).status).toBe(400);
      const r = await upload(server, alice, polyglot, 'image/jpeg', 'x.jpg');
      expect(r.status).toBe(201);
      const bytes = Buffer.from(await (await get(server, alice, `/v1/attachments/${r.body.attachment.id}`)).arrayBuffer());
      expect(bytes.includes(Buffer.from('<script>'))).toBe(false);
    });

    it('an SVG with script is stored but only ever served as a sandboxed download', async () => {
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
      const r = await upload(server, alice, svg, 'image/svg+xml', 'logo.svg');
      expect(r.status).toBe(201);
      expect(r.body.attachment).not.toHaveProperty('width');
      const res = await get(server, alice, `/v1/attachments/${r.body.attachment.id}`);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="logo.svg"/);
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await get(server, alice, `/v1/attachments/${r.body.attachment.id}/thumbnail`)).status).toBe(404);
      // With an XML declaration the sniffer says application/xml: still an SVG, still a download.
      const declared = Buffer.concat([Buffer.from('<?xml version="1.0"?>'), svg]);
      expect((await upload(server, alice, declared, 'image/svg+xml')).status).toBe(201);
    });

    it('a 0-byte file, a missing name and a missing token are refused', async () => {
      expect(await upload(server, alice, Buffer.alloc(0), 'text/plain')).toMatchObject({ status: 400 });
      const noName = await fetch(`${server.url}/v1/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/plain' },
        body: 'hello',
      });
      expect(noName.status).toBe(400);
      const noToken = await fetch(`${server.url}/v1/attachments?name=a.txt`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      expect(noToken.status).toBe(401);
    });

    it('over MAX_UPLOAD_BYTES: 413 at once from content-length, or mid-stream for a chunked body; nothing left behind', async () => {
      const before = (await rowsOf(server, carol.id)).length;
      expect((await upload(server, carol, Buffer.alloc(MAX + 1, 1), 'application/octet-stream')).status).toBe(413);
      // Chunked: no content-length, so the server counts and stops once past the limit (413, or
      // the connection closed under a client still writing: -1).
      expect([413, -1]).toContain(await chunkedUpload(server, carol, 20, 50_000));
      expect((await rowsOf(server, carol.id)).length).toBe(before);
      expect(stagingFiles(server)).toEqual([]);
    });

    it('an aborted upload leaves no file and no row', async () => {
      const before = (await rowsOf(server, carol.id)).length;
      await abortedUpload(server, carol, 200_000, 50_000);
      await waitUntil(() => stagingFiles(server).length === 0, 5000, 'the staging file removed');
      expect((await rowsOf(server, carol.id)).length).toBe(before);
    });

    it('UPLOAD_QUOTA_BYTES: past the quota, too_large with reason quota', async () => {
      const [dora] = await tokenUsers(server, 1, 'quota');
      const chunk = Buffer.alloc(MAX, 3);
      for (let i = 0; i < 6; i++) expect((await upload(server, dora!, chunk, 'application/octet-stream')).status).toBe(201);
      const over = await upload(server, dora!, chunk, 'application/octet-stream');
      expect(over).toMatchObject({ status: 413, body: { error: { code: 'too_large', details: { reason: 'quota' } } } });
    });

    it('messages carry attachments: text may be empty, only the sender’s own uploads, ≤ 10; events, history and sync show them', async () => {
      const mine = (await upload(server, alice, Buffer.from('agenda'), 'text/plain', 'agenda.txt')).body.attachment;
      const bobs = (await upload(server, bob, Buffer.from('bob'), 'text/plain')).body.attachment;
      const socket = await connect(server.wsUrl, bob.token);
      try {
        expect((await post(alice, { text: '' })).status).toBe(400);
        expect(await post(alice, { attachments: [bobs.id] })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
        expect(await post(alice, { attachments: ['a_nope'] })).toMatchObject({ status: 404 });
        expect((await post(alice, { attachments: Array.from({ length: 11 }, () => mine.id) })).status).toBe(400);
        const sent = await post(alice, { attachments: [mine.id] });
        expect(sent.status).toBe(201);
        const event = await socket.next((f) => f.type === 'event' && f.seq === sent.body.seq);
        expect(event).toMatchObject({ kind: 'message', text: '', attachments: [mine] });
        const history = await server.http('GET', `/v1/groups/${group}/messages?limit=1`, { token: bob.token });
        expect(history.body.messages[0]).toMatchObject({ seq: sent.body.seq, attachments: [mine] });
        const synced = await socket.request({ type: 'sync', groups: { [group]: sent.body.seq - 1 } });
        expect(JSON.stringify(synced)).toContain(mine.id);
        // Over the socket too, and the same upload may go to a second message of the sender's.
        const ack = await socket.request({ type: 'send', group, clientMsgId: 'ws-att', text: 'mine', attachments: [bobs.id] });
        expect(ack).toMatchObject({ type: 'ack' });
        const again = await socket.request({ type: 'send', group, clientMsgId: 'ws-att', text: 'mine', attachments: [bobs.id] });
        expect(again).toMatchObject({ type: 'ack', seq: ack.seq });
        // The same clientMsgId with other text or other files is another message: 409, as without files.
        for (const other of [{ text: 'not mine' }, { attachments: [mine.id] }]) {
          const reused = await socket.request({
            type: 'send',
            group,
            clientMsgId: 'ws-att',
            text: 'mine',
            attachments: [bobs.id],
            ...other,
          });
          expect(reused, JSON.stringify(other)).toMatchObject({ type: 'error', code: 'conflict' });
        }
        expect((await post(alice, { text: 'again', attachments: [mine.id] })).status).toBe(201);
      } finally {
        socket.terminate();
      }
    });

    it('access: the uploader, and members of a group where it was posted; not_found for others and after leaving', async () => {
      const r = await upload(server, alice, await png(), 'image/png', 'flyer.png');
      const id = r.body.attachment.id;
      expect((await get(server, bob, `/v1/attachments/${id}`)).status).toBe(404);
      expect((await post(alice, { text: 'flyer', attachments: [id] })).status).toBe(201);
      expect((await get(server, bob, `/v1/attachments/${id}`)).status).toBe(200);
      expect((await get(server, bob, `/v1/attachments/${id}/thumbnail`)).status).toBe(200);
      const outsider = await get(server, carol, `/v1/attachments/${id}`);
      expect(outsider.status).toBe(404);
      expect(await outsider.json()).toEqual({ error: { code: 'not_found', message: 'attachment not found' } });
      expect((await get(server, carol, `/v1/attachments/a_nothing`)).status).toBe(404);
      const leaver = (await tokenUsers(server, 1, 'leaver'))[0]!;
      await server.http('POST', `/v1/groups/${group}/members`, { token: alice.token, body: { userId: leaver.id } });
      expect((await get(server, leaver, `/v1/attachments/${id}`)).status).toBe(200);
      expect((await server.http('DELETE', `/v1/groups/${group}/members/${leaver.id}`, { token: leaver.token })).status).toBe(204);
      expect((await get(server, leaver, `/v1/attachments/${id}`)).status).toBe(404);
      expect((await get(server, leaver, `/v1/attachments/${id}/thumbnail`)).status).toBe(404);
    });

    it('sweeping: a deleted message’s files once nothing refers to them; unattached uploads after 24 h', async () => {
      const shared = (await upload(server, alice, Buffer.from('shared'), 'text/plain')).body.attachment.id;
      const first = await post(alice, { text: 'one', attachments: [shared] });
      const second = await post(alice, { text: 'two', attachments: [shared] });
      const stray = (await upload(server, alice, Buffer.from('stray'), 'text/plain')).body.attachment.id;
      const fresh = (await upload(server, alice, Buffer.from('fresh'), 'text/plain')).body.attachment.id;
      const socket = await connect(server.wsUrl, alice.token);
      try {
        expect(await socket.request({ type: 'delete', group, target: first.body.seq })).toMatchObject({ type: 'ack' });
        await chatOf(server).attachments.sweep();
        // Still referred to by the second message.
        expect((await get(server, bob, `/v1/attachments/${shared}`)).status).toBe(200);
        expect(await socket.request({ type: 'delete', group, target: second.body.seq })).toMatchObject({ type: 'ack' });
        const history = await server.http('GET', `/v1/groups/${group}/messages?before=${second.body.seq + 1}&limit=1`, {
          token: bob.token,
        });
        expect(history.body.messages[0]).not.toHaveProperty('attachments');
      } finally {
        socket.terminate();
      }
      await server.app.storage.db
        .update(attachmentsTable)
        .set({ sweepAfter: sql`now() - interval '1 second'` })
        .where(eq(attachmentsTable.id, stray));
      expect(await chatOf(server).attachments.sweep()).toBeGreaterThanOrEqual(2);
      expect((await get(server, alice, `/v1/attachments/${shared}`)).status).toBe(404);
      expect((await get(server, alice, `/v1/attachments/${stray}`)).status).toBe(404);
      expect((await get(server, alice, `/v1/attachments/${fresh}`)).status).toBe(200);
      const left = await server.app.storage.db.select().from(attachmentsTable).where(eq(attachmentsTable.id, shared));
      expect(left).toEqual([]);
      // The blob itself is gone from the store.
      expect(await server.app.blobs.get(`a/${shared}`)).toBeUndefined();
    });
  });
}

const chatOf = (server: TestServer) => server.app.chat;

for (const mode of storageModes()) suite(`${mode}, files under DATA_DIR`, mode);
suite('pglite, S3-compatible storage', 'pglite', async () => {
  const s3 = await startS3();
  return { url: s3.storageUrl(), stop: s3.stop };
});

// Image bombs (issue 35 #6): a tiny file of huge dimensions must not buy seconds of CPU, and one
// user's heavy images must not hold up everyone else's uploads.
describe('image work is bounded and shared fairly (pglite)', () => {
  let server: TestServer;
  let mallory: TestUser, bob: TestUser;

  beforeAll(async () => {
    server = await startServer({ mode: 'pglite' });
    [mallory, bob] = (await tokenUsers(server, 2, 'bomb')) as [TestUser, TestUser];
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a ~1 KB AVIF of 6300 × 6300 px is refused from its header, with the limit in details', { timeout: 120_000 }, async () => {
    const bomb = await sharp({ create: { width: 6300, height: 6300, channels: 3, background: '#c33' } })
      .avif({ effort: 0 })
      .toBuffer();
    expect(bomb.length).toBeLessThan(4096);
    const r = await upload(server, mallory, bomb, 'image/avif', 'bomb.avif');
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request', details: { reason: 'pixels', width: 6300, height: 6300, maxPixels: expect.any(Number) } } },
    });
    expect(r.body.error.details.maxPixels).toBeLessThan(6300 * 6300);
    expect(r.body.error.message).toMatch(/megapixels/);
  });

  it('an AVIF within the limit is stored re-encoded as JPEG (PNG with transparency), without metadata', { timeout: 60_000 }, async () => {
    const avif = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#3a7' } })
      .avif({ effort: 0 })
      .toBuffer();
    const r = await upload(server, bob, avif, 'image/avif', 'walk.avif');
    expect(r.status).toBe(201);
    expect(r.body.attachment).toMatchObject({ name: 'walk.jpg', contentType: 'image/jpeg', width: 400, height: 300 });
    const res = await get(server, bob, `/v1/attachments/${r.body.attachment.id}`);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format).toBe('jpeg');
    const clear = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } })
      .avif({ effort: 0 })
      .toBuffer();
    expect((await upload(server, bob, clear, 'image/avif', 'glass')).body.attachment).toMatchObject({
      name: 'glass',
      contentType: 'image/png',
    });
  });

  it("one user's heavy images wait behind each other, not in front of another user's photo", { timeout: 180_000 }, async () => {
    // 36 megapixels of one colour: a 200 KB JPEG within every limit, seconds to decode and re-encode.
    const heavy = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#753' } })
      .jpeg()
      .toBuffer();
    let heavyDone = 0;
    const heavies = Array.from({ length: 6 }, () =>
      upload(server, mallory, heavy, 'image/jpeg', 'heavy.jpg').then((r) => {
        heavyDone++;
        return r;
      }),
    );
    // Once one has been processed, the rest are surely queued: then Bob's photo arrives.
    await Promise.race(heavies);
    const mine = await upload(server, bob, await photo(), 'image/jpeg', 'mine.jpg');
    const doneWhenBobWasServed = heavyDone;
    expect(mine.status).toBe(201);
    // Before: one queue for everyone, so Bob waited for every heavy image sent before his (≥ 5 done).
    expect(doneWhenBobWasServed).toBeLessThan(3);
    for (const r of await Promise.all(heavies)) expect([201, 429]).toContain(r.status);
  });
});
