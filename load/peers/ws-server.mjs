// The floor: a minimal `ws` broadcast server. JWT checked at upgrade (jose), no compression; the
// admin's `send` becomes one serialised frame written to every open socket in a plain loop, via
// Redis pub/sub when there are several processes. No storage, no rooms, no ordering work.
// A socket opened with `listen=0` in its URL gets no broadcasts (bench:presence's churn sockets,
// which in Banyan are in no announcement group).
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT);
const secret = new TextEncoder().encode(process.env.JWT_SECRET);
const http = createServer((req, res) => {
  if (req.url === '/healthz') return void res.writeHead(200).end('ok');
  if (req.url === '/memory') return void res.writeHead(200).end(JSON.stringify(process.memoryUsage()));
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const pub = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
const sub = pub?.duplicate();

http.on('upgrade', async (req, socket, head) => {
  try {
    const params = new URL(req.url, 'http://x').searchParams;
    const token = params.get('token') ?? '';
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.user = payload.sub;
      ws.listens = params.get('listen') !== '0';
      ws.on('message', (data) => onMessage(ws, data));
      ws.send('{"type":"ready"}');
    });
  } catch {
    socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
  }
});

const broadcast = (frame) => {
  for (const ws of wss.clients) if (ws.listens) ws.send(frame);
};

let seq = 0;
function onMessage(ws, data) {
  if (ws.user !== process.env.ADMIN) return;
  const m = JSON.parse(data);
  if (m.type !== 'send') return;
  const ts = new Date().toISOString();
  const frame = JSON.stringify({
    type: 'event',
    group: m.group,
    seq: ++seq,
    ts,
    sender: ws.user,
    kind: 'message',
    clientMsgId: m.clientMsgId,
    text: m.text,
    replyTo: null,
    mentions: [],
  });
  if (pub) void pub.publish('bench-ws', frame);
  else broadcast(frame);
  ws.send(JSON.stringify({ type: 'ack', re: m.id, group: m.group, seq, ts }));
}

if (sub) {
  await sub.subscribe('bench-ws');
  sub.on('message', (_channel, frame) => broadcast(frame));
}
http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
