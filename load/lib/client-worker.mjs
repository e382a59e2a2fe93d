// A load client process: many WebSockets driven by the parent over IPC. It is kept cheap: a
// minimal RFC 6455 client on raw TCP (no compression, no UTF-8 validation, no per-frame objects;
// `ws` cost ~25 µs per received frame here, more than the servers under test), and frames are
// scanned as bytes for the few fields it needs (the timestamp in the text, an ack's id), never
// JSON-parsed.
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { encodeHistogram, newHistogram } from './report.mjs';

const workerIndex = Number(process.argv[2] ?? 0);
const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

const TEXT = Buffer.from('"text":"');
const ACK = Buffer.from('{"type":"ack","re":');
const READY = Buffer.from('{"type":"ready"');

let sockets = []; // { sock, user, group, ready, index }
let stats;
let cpuStart;
let chatTimer;

function resetStats() {
  stats = {
    delivered: 0,
    acked: 0,
    sent: 0,
    errors: 0,
    closed: 0,
    delivery: newHistogram(),
    ack: newHistogram(),
    /** announcement index -> latest receive latency (µs), for "time to last receiver" */
    lastByItem: new Map(),
    firstByItem: new Map(),
  };
  cpuStart = process.cpuUsage();
}
resetStats();
const pendingAcks = new Map(); // id -> intended send time (µs)
let readyCount = 0;
let failed = 0;
let opened = 0;

/** Reads the `<kind>|<id>|<µs>|` prefix of a frame's text without parsing the frame. */
function textStamp(buf) {
  const at = buf.indexOf(TEXT);
  if (at < 0) return undefined;
  let i = at + TEXT.length + 2; // skip "<kind>|"
  let id = 0;
  for (let c = buf[i]; c !== 0x7c; c = buf[++i]) id = id * 10 + (c - 48);
  let t = 0;
  for (let c = buf[++i]; c !== 0x7c; c = buf[++i]) t = t * 10 + (c - 48);
  return { id, t };
}

function onFrame(s, buf, flavor) {
  if (flavor === 'socketio') {
    if (buf.length === 1 && buf[0] === 0x32) return send(s, '3'); // engine.io ping
    if (buf[0] === 0x30) return send(s, `40${JSON.stringify({ token: s.token })}`); // open -> connect
    if (buf[0] === 0x34 && buf[1] === 0x30) return markReady(s); // "40": namespace connected
    if (buf[0] === 0x34 && buf[1] === 0x34) return void stats.errors++; // "44": connect error
  } else if (!s.ready && buf.subarray(0, READY.length).equals(READY)) {
    return markReady(s);
  }
  if (buf.subarray(0, ACK.length).equals(ACK)) {
    let id = 0;
    for (let i = ACK.length, c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) id = id * 10 + (c - 48);
    const t = pendingAcks.get(id);
    if (t !== undefined) {
      pendingAcks.delete(id);
      stats.acked++;
      stats.ack.recordValue(Math.max(1, nowMicros() - t));
    }
    return;
  }
  const stamp = textStamp(buf);
  if (!stamp) return;
  const latency = Math.max(1, nowMicros() - stamp.t);
  stats.delivered++;
  stats.delivery.recordValue(latency);
  const last = stats.lastByItem.get(stamp.id);
  if (last === undefined || latency > last) stats.lastByItem.set(stamp.id, latency);
  const first = stats.firstByItem.get(stamp.id);
  if (first === undefined || latency < first) stats.firstByItem.set(stamp.id, latency);
}

function markReady(s) {
  if (s.ready) return;
  s.ready = true;
  readyCount++;
  s.onReady?.();
}

/** An HS256 JWT built with node:crypto (jose's async signing costs ~1 ms each at 100k users). */
const HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
function mint(secret, sub) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${HEADER}.${Buffer.from(JSON.stringify({ name: sub, sub, iat: now, exp: now + 7200 })).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function pathFor(flavor, token) {
  if (flavor === 'banyan') return '/v1/ws';
  if (flavor === 'socketio') return '/socket.io/?EIO=4&transport=websocket';
  return `/?token=${token}`;
}

/** A masked client text frame; the all-zero mask key leaves the payload as it is. */
function send(s, text) {
  if (!s.sock || s.sock.destroyed) return;
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n, 0, 0, 0, 0]) : Buffer.from([0x81, 0xfe, n >> 8, n & 255, 0, 0, 0, 0]);
  s.sock.write(Buffer.concat([head, payload]));
}

function control(s, opcode, payload) {
  s.sock.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
}

/** Splits the byte stream into frames (server frames are unmasked and, here, never fragmented). */
function onData(s, chunk, flavor) {
  const buf = s.rest ? Buffer.concat([s.rest, chunk]) : chunk;
  s.rest = undefined;
  let i = 0;
  if (!s.upgraded) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      s.rest = buf;
      return;
    }
    if (buf.toString('latin1', 0, 12) !== 'HTTP/1.1 101') {
      s.sock.destroy();
      return;
    }
    s.upgraded = true;
    opened++;
    i = end + 4;
  }
  while (buf.length - i >= 2) {
    const opcode = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - i < 4) break;
      len = buf.readUInt16BE(i + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - i < 10) break;
      len = buf.readUInt32BE(i + 6);
      head = 10;
    }
    if (buf.length - i < head + len) break;
    const payload = buf.subarray(i + head, i + head + len);
    i += head + len;
    if (opcode === 1 || opcode === 2) onFrame(s, payload, flavor);
    else if (opcode === 9) control(s, 0xa, payload);
    else if (opcode === 8) s.sock.end();
  }
  if (i < buf.length) s.rest = buf.subarray(i);
}

function open(s, o) {
  return new Promise((resolve) => {
    // A reconnect tries another process, at random as a load balancer would spread them: the one
    // it was on may be gone, and sending all of its sockets to one neighbour would double that one.
    const other = s.attempt ? 1 + Math.floor(Math.random() * (o.urls.length - 1)) : 0;
    const port = Number(o.urls[(s.index + other) % o.urls.length].split(':').pop());
    const sock = net.connect({
      host: '127.0.0.1',
      port,
      localAddress: `127.${workerIndex + 1}.${(s.index >> 8) & 255}.${s.index & 255 || 1}`,
    });
    s.sock = sock;
    s.ready = false;
    s.upgraded = false;
    s.rest = undefined;
    let settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      if (!ok) failed++;
      resolve(ok);
    };
    const timer = setTimeout(() => sock.destroy(), 30_000);
    s.onReady = () => {
      clearTimeout(timer);
      settle(true);
    };
    sock.setNoDelay(true);
    sock.on('connect', () =>
      sock.write(
        `GET ${pathFor(o.flavor, s.token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
          (o.flavor === 'banyan' ? `Authorization: Bearer ${s.token}\r\n` : '') +
          '\r\n',
      ),
    );
    sock.on('data', (chunk) => onData(s, chunk, o.flavor));
    sock.on('error', () => undefined); // 'close' follows
    sock.on('close', () => {
      clearTimeout(timer);
      if (s.ready) readyCount--;
      s.ready = false;
      stats.closed++;
      settle(false);
      if (o.reconnect && !closing) {
        s.attempt = (s.attempt ?? 0) + 1;
        setTimeout(() => open(s, o), 50 + Math.random() * 200);
      }
    });
  });
}

let closing = false;
// Across steps: a clientMsgId is never reused (a repeat would be answered with its first ack).
let cursor = 0;
let id = 1 + workerIndex * 1e9;

async function connect(o) {
  const secret = o.secret;
  sockets = [];
  for (let i = 0; i < o.count; i++) {
    const n = o.first + i;
    const user = `${o.prefix}${n}`;
    sockets.push({ index: n, user, group: o.groupOf ? o.groupOf(n) : undefined, token: mint(secret, user) });
  }
  const started = nowMicros();
  let next = 0;
  const lane = async () => {
    // A handshake that fails (a dropped SYN, a busy server) is tried again, up to 3 times.
    while (next < sockets.length) {
      const s = sockets[next++];
      for (let attempt = 0; !(await open(s, o)) && !o.reconnect && attempt < 2; attempt++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, sockets.length) }, lane));
  return { ready: readyCount, failed, seconds: (nowMicros() - started) / 1e6 };
}

/** Open loop: every 5 ms, sends what the schedule says is due, round-robin over ready sockets. */
function chat(o) {
  const period = 1e6 / o.ratePerS;
  const start = nowMicros();
  const end = start + o.durationMs * 1000;
  let due = 0;
  const pad = 'x'.repeat(Math.max(0, o.textBytes - 24));
  return new Promise((resolve) => {
    chatTimer = setInterval(() => {
      const now = nowMicros();
      const upTo = Math.min(now, end);
      while (start + due * period <= upTo) {
        const t = Math.round(start + due * period);
        due++;
        for (let tries = 0; tries < sockets.length; tries++) {
          const s = sockets[cursor++ % sockets.length];
          if (!s.ready) continue;
          const msgId = id++;
          pendingAcks.set(msgId, t);
          stats.sent++;
          send(s, `{"type":"send","id":${msgId},"group":"${s.group}","clientMsgId":"w${msgId}","text":"c|${msgId}|${t}|${pad}"}`);
          break;
        }
      }
      if (now >= end) {
        clearInterval(chatTimer);
        resolve();
      }
    }, 5);
  });
}

function report() {
  const cpu = process.cpuUsage(cpuStart);
  return {
    ev: 'report',
    worker: workerIndex,
    ready: readyCount,
    failed,
    opened,
    delivered: stats.delivered,
    sent: stats.sent,
    acked: stats.acked,
    unacked: pendingAcks.size,
    errors: stats.errors,
    closed: stats.closed,
    delivery: encodeHistogram(stats.delivery),
    ack: encodeHistogram(stats.ack),
    lastByItem: [...stats.lastByItem],
    firstByItem: [...stats.firstByItem],
    cpuMicros: cpu.user + cpu.system,
    rss: process.memoryUsage.rss(),
  };
}

const chatGroupOf = (n) => `g-bench-c${Math.floor(n / 10)}`;

process.on('message', async (m) => {
  try {
    if (m.cmd === 'connect') {
      const result = await connect({ ...m, groupOf: m.chatGroups ? chatGroupOf : undefined });
      process.send({ ev: 'connected', ...result });
    } else if (m.cmd === 'reset') {
      resetStats();
      pendingAcks.clear(); // acks of earlier steps still on their way are not this step's
      process.send({ ev: 'reset' });
    } else if (m.cmd === 'chat') {
      await chat(m);
      process.send({ ev: 'chatted' });
    } else if (m.cmd === 'report') {
      process.send(report());
    } else if (m.cmd === 'close') {
      closing = true;
      for (const s of sockets) s.sock?.destroy();
      process.send({ ev: 'closed' });
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ ev: 'error', message: String(err?.stack ?? err) });
  }
});

setInterval(
  () =>
    process.send({
      ev: 'progress',
      worker: workerIndex,
      ready: readyCount,
      failed,
      opened,
      delivered: stats.delivered,
      acked: stats.acked,
    }),
  200,
).unref();
process.on('disconnect', () => process.exit(0));
