import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BanyanError } from '../../src/client/errors.js';
import { Connection, type ConnectionHooks, type ConnectionState, type PushedFrame } from '../../src/client/connection.js';
import { fakeSockets } from '../helpers/fake-socket.js';

// The connection alone, over a hand-driven socket: authentication, request correlation,
// reconnecting, stopping for good, and the ping that notices a silent network.

const ready = { type: 'ready', re: 'auth', user: { id: 'u1', name: 'Asha' }, sessionId: 's1', groups: [] };

function setup(token: string | (() => Promise<string>) = 'tok') {
  const net = fakeSockets();
  const states: ConnectionState[] = [];
  const frames: PushedFrame[] = [];
  const errors: BanyanError[] = [];
  const log: string[] = [];
  const hooks: ConnectionHooks = {
    state: (s) => states.push(s),
    frame: (f) => {
      frames.push(f);
      if (f.type === 'ready') connection.authenticated();
    },
    lost: () => log.push('lost'),
    stopped: (code, _reason, error) => log.push(`stopped ${code} ${error.code}`),
    error: (e) => errors.push(e),
  };
  const connection = new Connection(
    {
      url: 'http://chat.test/',
      token,
      WebSocket: net.WebSocket,
      reconnect: { baseMs: 100, maxMs: 1000 },
      pingIntervalMs: 1000,
      pingTimeoutMs: 500,
      random: () => 0.5,
    },
    hooks,
  );
  return { net, connection, states, frames, errors, log };
}

/** Lets the awaited token and request promises run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('Connection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('opens the socket URL, authenticates with a fresh token and goes live on ready', async () => {
    const t = setup(async () => 'fresh');
    t.connection.start();
    expect(t.net.current.url).toBe('ws://chat.test/v1/ws');
    t.net.current.open();
    await settle();
    expect(t.net.current.sent).toEqual([{ type: 'auth', id: 'auth', token: 'fresh' }]);
    expect(t.connection.live).toBe(false);
    t.net.current.receive(ready);
    expect(t.connection.live).toBe(true);
    t.connection.caughtUp();
    expect(t.states).toEqual(['connecting', 'syncing', 'ready']);
    expect(t.frames.map((f) => f.type)).toEqual(['ready']);
  });

  it('matches replies to requests by id; an error reply rejects with its code; others go to the hooks', async () => {
    const t = setup();
    t.connection.start();
    t.net.current.open();
    t.net.current.receive(ready);
    const sent = t.connection.request({ type: 'send', group: 'g1', clientMsgId: 'm1', text: 'hi' }, 1000);
    const refused = t.connection.request({ type: 'read', group: 'g1', seq: 3 }, 1000);
    await settle();
    const [send, read] = [t.net.current.last('send'), t.net.current.last('read')];
    expect(send).toMatchObject({ group: 'g1', clientMsgId: 'm1', text: 'hi' });
    expect(send.id).not.toBe(read.id);
    t.net.current.receive({ type: 'error', re: read.id, code: 'forbidden', message: 'no' });
    t.net.current.receive({ type: 'ack', re: 'someone-else', group: 'g1', seq: 9, ts: 'x' });
    t.net.current.receive({ type: 'ack', re: send.id, group: 'g1', seq: 4, ts: '2026-01-01T00:00:00.000Z' });
    await expect(sent).resolves.toMatchObject({ type: 'ack', seq: 4 });
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', message: 'no' });

    t.net.current.receive({ type: 'typing', group: 'g1', user: 'u2' });
    t.net.current.receive({ type: 'error', code: 'rate_limited', message: 'slow' });
    t.net.current.onmessage?.({ data: 'not json' });
    expect(t.frames.map((f) => f.type)).toEqual(['ready', 'typing']);
    expect(t.errors.map((e) => e.code)).toEqual(['rate_limited', 'bad_request']);
  });

  it('a request waits for the session, and times out if none comes', async () => {
    const t = setup();
    t.connection.start();
    const early = t.connection.request({ type: 'ping' }, 1000);
    const late = t.connection.request({ type: 'ping' }, 200);
    const lateFailed = expect(late).rejects.toMatchObject({ code: 'unavailable', message: 'not connected' });
    await vi.advanceTimersByTimeAsync(300);
    await lateFailed;
    t.net.current.open();
    t.net.current.receive(ready);
    await settle();
    t.net.current.receive({ type: 'pong', re: t.net.current.last('ping').id });
    await expect(early).resolves.toEqual({ type: 'pong', re: t.net.current.last('ping').id });
  });

  it('fails requests on a lost socket and reconnects after a backoff delay', async () => {
    const t = setup();
    t.connection.start();
    t.net.current.open();
    t.net.current.receive(ready);
    const request = t.connection.request({ type: 'history', group: 'g1' }, 5000);
    await settle();
    const failed = expect(request).rejects.toMatchObject({ code: 'unavailable', message: 'connection lost' });
    t.net.current.drop();
    await failed;
    expect(t.log).toEqual(['lost']);
    expect(t.connection.state).toBe('reconnecting');
    expect(t.net.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(75); // first delay: between half and all of baseMs
    expect(t.net.sockets).toHaveLength(2);
    t.net.current.open();
    t.net.current.receive(ready);
    expect(t.states).toEqual(['connecting', 'syncing', 'reconnecting', 'syncing']);
  });

  it('stops for good on a revoked session, and when stopped by the owner', async () => {
    const t = setup();
    t.connection.start();
    t.net.current.open();
    t.net.current.receive(ready);
    t.net.current.drop(4403, '');
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.net.sockets).toHaveLength(1);
    expect(t.log).toEqual(['lost', 'stopped 4403 unauthorized']);
    expect(t.connection.state).toBe('closed');
    await expect(t.connection.request({ type: 'ping' }, 100)).rejects.toMatchObject({ code: 'unavailable' });

    const u = setup();
    u.connection.start();
    u.net.current.open();
    u.connection.stop(1000, 'bye');
    expect(u.net.current.closedWith).toEqual({ code: 1000, reason: 'bye' });
    expect(u.log).toEqual(['lost', 'stopped 1000 unavailable']);
  });

  it('drops a socket whose pong does not come, and opens another', async () => {
    const t = setup();
    t.connection.start();
    t.net.current.open();
    t.net.current.receive(ready);
    const silent = t.net.current;
    await vi.advanceTimersByTimeAsync(1000); // ping sent
    expect(silent.last('ping')).toBeDefined();
    await vi.advanceTimersByTimeAsync(500); // no pong
    expect(silent.closedWith?.code).toBe(4000);
    await vi.advanceTimersByTimeAsync(100);
    expect(t.net.sockets).toHaveLength(2);
  });
});

describe('BanyanError', () => {
  it('marks what is worth retrying', () => {
    expect(['unavailable', 'rate_limited', 'internal', 'forbidden'].map((c) => new BanyanError(c, '').retryable)).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});
