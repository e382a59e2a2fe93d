// Presence churn (load/presence.mjs): sockets of users `<prefix>0…` connect (to the replicas in
// turn), wait for `ready`, stay `holdMs`, close, and come back later: an open loop of `ratePerS`
// connections a second between `go` and `pause`. Counts connects, closes, failures and presence frames.
//
// `client: 'raw'` (the default) speaks just enough WebSocket over a plain TCP socket: the handshake
// written in one piece, unmasked server frames read by their header, a masked empty close. The
// `ws` package's HTTP client costs about 1 ms of CPU per connection here, on the same two cores as
// the servers under test, so with it the bench measured its own load generator as much as churn.
import net from 'node:net';
import WebSocket from 'ws';
import { mintToken } from './admin.mjs';

const stats = { started: 0, ready: 0, closed: 0, failed: 0, presenceFrames: 0, userFrames: 0 };
const TICK_MS = 10;
let options;
const tokens = [];
let next = 0;
let timer;

async function prepare(o) {
  options = o;
  for (let i = 0; i < o.total; i++) tokens.push(await mintToken(o.secret, `${o.prefix}${i}`));
  process.send({ ev: 'minted' });
}

function go() {
  const startedAt = performance.now();
  let due = 0;
  const cycle = options.client === 'ws' ? cycleWs : cycleRaw;
  timer = setInterval(() => {
    // Open loop: what the rate says is due by now, whatever the server's answers.
    const target = Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerS);
    for (; due < target; due++) {
      const i = next++ % options.total;
      cycle(options.urls[i % options.urls.length], tokens[i], options.holdMs);
    }
  }, TICK_MS);
}

/** Counts one text frame from the server by its type. */
function heard(text) {
  if (text.startsWith('{"type":"ready"')) return true;
  if (text.startsWith('{"type":"presence"')) stats.presenceFrames++;
  else if (text.startsWith('{"type":"user"')) stats.userFrames++;
  return false;
}

function cycleWs(url, token, holdMs) {
  stats.started++;
  const ws = new WebSocket(`${url}/v1/ws`, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}` } });
  let hold;
  ws.on('message', (data) => {
    if (heard(data.toString())) {
      stats.ready++;
      hold = setTimeout(() => ws.close(), holdMs);
    }
  });
  ws.on('error', () => stats.failed++);
  ws.on('close', () => {
    clearTimeout(hold);
    stats.closed++;
  });
}

/** A client close frame: FIN + close, masked (as clients must) with a zero key, no payload. */
const CLOSE_FRAME = Buffer.from([0x88, 0x80, 0, 0, 0, 0]);

function cycleRaw(url, token, holdMs) {
  stats.started++;
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
  // Banyan takes the token in a header; the `ws` floor (load/peers/ws-server.mjs) in the URL.
  const target =
    options.flavor === 'ws' ? `/?token=${token}&listen=0 HTTP/1.1\r\n` : `/v1/ws HTTP/1.1\r\nAuthorization: Bearer ${token}\r\n`;
  socket.write(
    `GET ${target}Host: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let failed = false;
  let hold;
  const fail = () => {
    if (!failed) stats.failed++;
    failed = true;
    socket.destroy();
  };
  socket.on('data', (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    if (!upgraded) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!buffer.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return fail();
      upgraded = true;
      buffer = buffer.subarray(end + 4);
    }
    // Server frames are unmasked: opcode, then a 7-bit length or a 16/64-bit extension.
    while (buffer.length >= 2) {
      let length = buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const opcode = buffer[0] & 0x0f;
      if (opcode === 1 && heard(buffer.toString('utf8', offset, offset + 20))) {
        stats.ready++;
        hold = setTimeout(() => socket.write(CLOSE_FRAME), holdMs);
      } else if (opcode === 8) socket.end();
      buffer = buffer.subarray(offset + length);
    }
  });
  socket.on('error', fail);
  socket.on('close', () => {
    clearTimeout(hold);
    stats.closed++;
  });
}

process.on('message', (m) => {
  if (m.cmd === 'prepare') void prepare(m.options);
  else if (m.cmd === 'go') go();
  else if (m.cmd === 'pause') clearInterval(timer);
  else if (m.cmd === 'stats') process.send({ ev: 'stats', stats: { ...stats } });
});
