// Peer baseline: what a Node developer would pick instead. Socket.IO 4, websocket transport only,
// no compression, @socket.io/redis-adapter between processes, JWT checked at connect (jose),
// every member in one room; the admin's `send` is broadcast to the room with the same event
// object Banyan sends. No storage: it is faster than anything that stores messages can be.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';

const port = Number(process.env.PORT);
const secret = new TextEncoder().encode(process.env.JWT_SECRET);
const pub = new Redis(process.env.REDIS_URL);
const sub = pub.duplicate();

const http = createServer((req, res) => {
  if (req.url === '/healthz') return void res.writeHead(200).end('ok');
  if (req.url === '/memory') return void res.writeHead(200).end(JSON.stringify(process.memoryUsage()));
  res.writeHead(404).end();
});
const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  adapter: createAdapter(pub, sub, { key: 'bench-sio' }),
});

io.use(async (socket, next) => {
  try {
    const { payload } = await jwtVerify(String(socket.handshake.auth?.token ?? ''), secret, { algorithms: ['HS256'] });
    socket.data.user = payload.sub;
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

let seq = 0;
io.on('connection', (socket) => {
  socket.join('community');
  socket.on('send', (m, ack) => {
    if (socket.data.user !== process.env.ADMIN) return;
    const ts = new Date().toISOString();
    io.to('community').emit('event', {
      type: 'event',
      group: 'community',
      seq: ++seq,
      ts,
      sender: socket.data.user,
      kind: 'message',
      clientMsgId: m.clientMsgId,
      text: m.text,
      replyTo: null,
      mentions: [],
    });
    if (typeof ack === 'function') ack({ seq, ts });
  });
});

http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
