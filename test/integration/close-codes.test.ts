import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { sleep } from '../helpers/users.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// docs/protocol.md §7 close codes where uWS has a say: bad UTF-8, a reader far behind, and a
// socket whose token outlives a Node timer.

describe('close codes', () => {
  let server: TestServer;
  let owner: TestUser;
  const sockets: TestSocket[] = [];
  const track = (s: TestSocket) => {
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    // Tokens of 30 days: longer than a Node timer can wait in one go (2^31 − 1 ms, 24.8 days).
    server = await startServer({
      env: {
        TOKEN_TTL_S: String(30 * 24 * 3600),
        RATE_LIMIT_PER_S: '10000',
        RATE_LIMIT_BURST: '10000',
        READ_BUDGET_BURST_BYTES: String(1024 ** 3),
      },
    });
    owner = await server.signUp();
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
  });

  it('cuts a text frame that is not valid UTF-8 (inside uWS: 1006, not 1007) and serves on', async () => {
    // Known limit: uWS checks a text frame's UTF-8 itself and drops the connection without a close
    // frame before the server sees the frame, so 1007 cannot be sent. (A binary frame is read as
    // text and answered, as before.)
    const text = track(await connect(server.wsUrl, owner.token));
    text.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect([1006, 1007]).toContain((await text.closed).code);
    const after = track(await connect(server.wsUrl, owner.token));
    expect(await after.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('closes a reader far behind with 4000, not a dropped connection', { timeout: 60_000 }, async () => {
    const group = await createGroup(server, owner);
    const writer = track(await connect(server.wsUrl, owner.token));
    // 100 events of ~8 KiB once escaped (`"` is two bytes in JSON; control characters are refused).
    const text = '"'.repeat(4096);
    const acks = await Promise.all(
      Array.from({ length: 100 }, (_, i) => writer.request({ type: 'send', group, clientMsgId: `big${i}`, text }, 20_000)),
    );
    expect(acks.every((a) => a.type === 'ack')).toBe(true);
    const reader = track(await connect(server.wsUrl, owner.token));
    // Stops reading: the replies pile up on the server, far past 16 MiB between two sweeps.
    reader.ws.pause();
    for (let i = 0; i < 40 && reader.closeInfo === undefined; i++) {
      reader.send({ type: 'sync', id: `s${i}`, groups: { [group]: 0 } });
      await sleep(5);
    }
    await sleep(500);
    reader.ws.resume();
    expect((await reader.closed).code).toBe(4000);
  });

  it('keeps a socket whose token expires in 30 days open (no timer overflow)', async () => {
    const s = track(await connect(server.wsUrl, owner.token));
    // Kept: about time, an overflowed 30-day timer fires at once (1 ms).
    await sleep(300);
    expect(s.closeInfo).toBeUndefined();
    expect(await s.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
