import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanyanClient, BanyanError, BanyanHttp } from '../../src/client/index.js';
import { waitFor } from '../helpers/bus-contract.js';
import { createGroup, startServer, type TestServer } from '../helpers/server.js';
import { tokenUsers } from '../helpers/users.js';

// The SDK's files and search (docs/protocol.md §8 "Files (attachments)") against a real gateway.

describe('client SDK: upload, send with files, download with Range, search', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('uploads, sends the file with empty text, the other member sees it in the event and downloads a range; search finds it', async () => {
    const [asha, ben] = await tokenUsers(server, 2, 'sdk');
    const group = await createGroup(server, asha!, [ben!]);
    const ashaHttp = new BanyanHttp({ url: server.url, token: asha!.token });
    const benHttp = new BanyanHttp({ url: server.url, token: ben!.token });
    const { attachment } = await ashaHttp.upload(new TextEncoder().encode('permission slip: sign and return'), {
      name: 'slip.txt',
      contentType: 'text/plain',
    });
    expect(attachment).toEqual({ id: expect.any(String), name: 'slip.txt', contentType: 'text/plain', size: 32 });

    const a = new BanyanClient({ url: server.url, token: asha!.token, WebSocket });
    const b = new BanyanClient({ url: server.url, token: ben!.token, WebSocket });
    const seen: unknown[] = [];
    b.on('event', (e) => seen.push(e));
    try {
      await Promise.all([a.connect(), b.connect()]);
      const ack = await a.send(group, '', { attachments: [attachment.id] });
      await waitFor(() => seen.some((e) => (e as { seq: number }).seq === ack.seq), 'the message event');
      expect(seen.find((e) => (e as { seq: number }).seq === ack.seq)).toMatchObject({ kind: 'message', attachments: [attachment] });
      await a.send(group, 'signed slips due Friday');
    } finally {
      a.close();
      b.close();
    }
    const part = await benHttp.download(attachment.id, { range: 'bytes=0-9' });
    expect([part.status, await part.text()]).toEqual([206, 'permission']);
    expect(benHttp.attachmentUrl(attachment.id, { thumbnail: true })).toBe(`${server.url}/v1/attachments/${attachment.id}/thumbnail`);
    const found = await benHttp.search('slips', { group });
    expect(found.results.map((r) => r.text)).toEqual(['signed slips due Friday']);
    const [carol] = await tokenUsers(server, 1, 'sdk-out');
    await expect(new BanyanHttp({ url: server.url, token: carol!.token }).download(attachment.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(ashaHttp.upload(new Uint8Array(0), { name: 'empty.txt', contentType: 'text/plain' })).rejects.toBeInstanceOf(BanyanError);
  });
});
