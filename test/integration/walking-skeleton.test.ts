import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, storageModes, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

describe.each(storageModes())('group chat over a real socket (%s)', (mode) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ mode });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('delivers a sent message to every member socket, sender included, after the ack', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben]);
    const a = await connect(server.wsUrl, asha.token);
    const b = await connect(server.wsUrl, ben.token);
    const ack = await a.request({ type: 'send', group, clientMsgId: 'm1', text: '  hello  ' });
    expect(ack).toMatchObject({ type: 'ack', group, seq: 3 });
    for (const s of [a, b]) {
      const event = await s.next((f) => f.type === 'event' && f.seq === 3);
      expect(event).toMatchObject({
        group,
        sender: asha.id,
        kind: 'message',
        clientMsgId: 'm1',
        text: 'hello',
        replyTo: null,
        mentions: [],
      });
    }
    await Promise.all([a.close(), b.close()]);
  });
});
