// The floor for session starts and HTTP reads: the least a server can do for Banyan's work on the
// same database. uWS; the token verified with jose (HS256, key imported once, as Banyan does);
// postgres.js tagged queries (prepared by the driver); no limits, no logging, no revocation, no
// rate limits, no bus, no metrics. What it does per request:
// - GET /v1/ws (upgrade): one query for the user's groups with lastSeq/readSeq, one uWS subscribe
//   per group, a `ready` frame with the same fields as Banyan's.
// - GET /v1/me: the user's row, groups and communities (3 queries), JSON.
// - GET /v1/groups/:id/messages?limit=N[&before=S]: the membership row, N+1 messages, their
//   reaction counts (3 queries), JSON with the same fields as Banyan's page.
import { webcrypto } from 'node:crypto';
import { jwtVerify } from 'jose';
import postgres from 'postgres';
import uws from 'uWebSockets.js';

const port = Number(process.env.PORT);
const secretBytes = new TextEncoder().encode(process.env.JWT_SECRET);
const key = await webcrypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
const sql = postgres(process.env.DATABASE_URL, { max: Number(process.env.DATABASE_POOL_SIZE ?? 10), onnotice: () => {} });

async function userOf(authorization) {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? '';
  const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] });
  return { id: payload.sub, name: payload.name ?? payload.sub };
}

const groupsOf = (userId) => sql`
  select g.id, g.kind, g.name, g.community_id, m.role, g.last_seq, m.read_seq, g.member_count, m.notify_level, m.mute_until
  from members m join groups g on g.id = m.group_id where m.user_id = ${userId} order by g.id`;

const summary = (r) => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  communityId: r.community_id,
  role: r.role,
  lastSeq: Number(r.last_seq),
  readSeq: Number(r.read_seq),
  memberCount: r.member_count,
  level: r.notify_level ?? (r.kind === 'announcement' ? 'mentions' : 'all'),
  muteUntil: r.mute_until ? r.mute_until.toISOString() : null,
});

function reply(res, aborted, status, body) {
  if (aborted.value) return;
  res.cork(() => res.writeStatus(status).writeHeader('content-type', 'application/json').end(body));
}

function get(path, handler) {
  app.get(path, (res, req) => {
    const aborted = { value: false };
    res.onAborted(() => {
      aborted.value = true;
    });
    const authorization = req.getHeader('authorization');
    const params = [req.getParameter(0)];
    const query = req.getQuery();
    userOf(authorization)
      .then((user) => handler(user, params, query))
      .then(
        (body) => reply(res, aborted, '200 OK', JSON.stringify(body)),
        (err) => reply(res, aborted, err?.status ?? '401 Unauthorized', '{}'),
      );
  });
}

const app = uws.App();
app.get('/healthz', (res) => res.end('ok'));
app.get('/memory', (res) => res.end(JSON.stringify(process.memoryUsage())));

get('/v1/me', async (user) => {
  const [[row], groups, communities] = await Promise.all([
    sql`select id, name, avatar, group_add, last_seen from users where id = ${user.id}`,
    groupsOf(user.id),
    sql`select c.id, c.name, m.role from members m join communities c on c.announcement_group_id = m.group_id where m.user_id = ${user.id} order by c.id`,
  ]);
  return {
    user: {
      id: row.id,
      name: row.name,
      avatar: row.avatar,
      privacy: { groupAdd: row.group_add ?? 'everyone', lastSeen: row.last_seen ?? 'everyone' },
    },
    groups: groups.map(summary),
    communities: communities.map((c) => ({ id: c.id, name: c.name, role: c.role })),
  };
});

get('/v1/groups/:id/messages', async (user, [groupId], query) => {
  const q = new URLSearchParams(query);
  const limit = Number(q.get('limit') ?? 50);
  const before = q.has('before') ? Number(q.get('before')) : Number.MAX_SAFE_INTEGER;
  const [member] = await sql`select role from members where group_id = ${groupId} and user_id = ${user.id}`;
  if (!member) throw Object.assign(new Error('not found'), { status: '404 Not Found' });
  const rows = await sql`
    select seq, ts, sender_id, text, reply_to, data, client_msg_id, edited_at, deleted from events
    where group_id = ${groupId} and kind = 'message' and seq < ${before} order by seq desc limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  const counts = page.length
    ? await sql`select message_seq, emoji, count(*)::int as n from reactions
        where group_id = ${groupId} and message_seq = any(${page.map((r) => r.seq)}::bigint[]) group by message_seq, emoji`
    : [];
  const bySeq = new Map();
  for (const c of counts) {
    const entry = bySeq.get(Number(c.message_seq)) ?? {};
    entry[c.emoji] = c.n;
    bySeq.set(Number(c.message_seq), entry);
  }
  return {
    messages: page.map((r) => ({
      seq: Number(r.seq),
      ts: r.ts.toISOString(),
      sender: r.sender_id,
      text: r.deleted ? null : r.text,
      replyTo: r.reply_to === null ? null : Number(r.reply_to),
      mentions: r.data?.mentions ?? [],
      clientMsgId: r.client_msg_id,
      editedAt: r.edited_at ? r.edited_at.toISOString() : null,
      deleted: r.deleted,
      reactions: bySeq.get(Number(r.seq)) ?? {},
    })),
    hasMore: rows.length > limit,
  };
});

app.ws('/v1/ws', {
  compression: uws.DISABLED,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const authorization = req.getHeader('authorization');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    userOf(authorization).then(
      (user) => {
        if (!aborted) res.cork(() => res.upgrade({ user }, key, protocol, extensions, context));
      },
      () => {
        if (!aborted) res.cork(() => res.writeStatus('401 Unauthorized').end());
      },
    );
  },
  open: (ws) => {
    const { user } = ws.getUserData();
    groupsOf(user.id).then(
      (rows) => {
        if (ws.getUserData().closed) return;
        const groups = rows.map(summary);
        for (const g of groups) ws.subscribe(`g:${g.id}`);
        ws.send(JSON.stringify({ type: 'ready', user, session: null, groups }));
      },
      () => ws.end(1011),
    );
  },
  close: (ws) => {
    ws.getUserData().closed = true;
  },
});

app.listen('127.0.0.1', port, (s) => {
  if (!s) {
    console.error(`floor: could not listen on ${port}`);
    process.exit(1);
  }
});
process.on('SIGTERM', () => process.exit(0));
