// The poster: one admin socket in the orchestrator, speaking each system's protocol.
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { nowMicros } from './proc.mjs';

export async function mintToken(secret, sub) {
  return new SignJWT({ name: sub })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

/** Connects as `user` and resolves once the system says the socket is ready to post. */
export async function connectPoster({ flavor, url, secret, user }) {
  const token = await mintToken(secret, user);
  const target =
    flavor === 'banyan' ? `${url}/v1/ws` : flavor === 'socketio' ? `${url}/socket.io/?EIO=4&transport=websocket` : `${url}/?token=${token}`;
  const ws = new WebSocket(target, {
    perMessageDeflate: false,
    headers: flavor === 'banyan' ? { authorization: `Bearer ${token}` } : {},
  });
  /** `latencyMs`: each ack's delay from its post's intended send time (the commit path alone). */
  const acks = { count: 0, errors: [], latencyMs: [] };
  const intended = new Map();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${flavor} poster: not ready in 15 s`)), 15_000);
    ws.on('error', reject);
    ws.on('message', (data) => {
      const s = data.toString();
      if (flavor === 'socketio') {
        if (s === '2') return ws.send('3');
        if (s.startsWith('0')) return ws.send(`40${JSON.stringify({ token })}`);
        if (s.startsWith('40')) {
          clearTimeout(timer);
          return resolve();
        }
        if (s.startsWith('43')) acks.count++;
        return;
      }
      if (s.startsWith('{"type":"ready"')) {
        clearTimeout(timer);
        return resolve();
      }
      if (s.startsWith('{"type":"ack"')) {
        acks.count++;
        const re = JSON.parse(s).re;
        const t = intended.get(re);
        if (t !== undefined) {
          intended.delete(re);
          acks.latencyMs.push((nowMicros() - t) / 1000);
        }
      } else if (s.startsWith('{"type":"error"')) acks.errors.push(s);
    });
  });
  let nextAck = 0;
  return {
    acks,
    /** Posts one message; the text carries the intended send time (`intendedMicros` times its ack). */
    post(group, clientMsgId, text, intendedMicros) {
      const id = ++nextAck;
      if (intendedMicros !== undefined) intended.set(id, intendedMicros);
      if (flavor === 'socketio') ws.send(`42${id}${JSON.stringify(['send', { clientMsgId, text }])}`);
      else ws.send(JSON.stringify({ type: 'send', id, group, clientMsgId, text }));
    },
    close: () => ws.terminate(),
  };
}
