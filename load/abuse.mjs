// abuse (issue 11): a well-behaved pair of users chatting over WebSockets while, one at a time, an
// abuser (a valid account) runs one attack, in embedded (PGlite) and PostgreSQL storage. Per
// attack: the pair's send→delivery p50/p99/max without the abuser (just before) and with it, and
// how the abuser was answered. The server is restarted (same data) before each attack, so one
// attack's backlog never lands in the next one's numbers. The pair runs in its own process (this
// file, forked with --pair-worker), so the abuser's client work is not in the pair's latency.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { imageBomb } from './abuse/image-bomb.mjs';
import { mintToken } from './lib/admin.mjs';
import { forkWorker, nowMicros, sleep, stopProcess } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { args, list } from './lib/run.mjs';
import { DATABASE_URL, SECRET, startBanyan } from './lib/targets.mjs';
import { manySockets } from './abuse/many-sockets.mjs';
import { prepareSearchFlood, searchFlood } from './abuse/search-flood.mjs';
import { webhookStall } from './abuse/webhook-stall.mjs';
import { signInSpread } from './abuse/sign-in-spread.mjs';

const ATTACKS = [
  'sync-flood',
  'amplification',
  'bulk-create',
  'sign-in',
  'sign-in-spread',
  'reactions',
  'frame-flood',
  'image-bomb',
  'many-sockets',
  'search-flood',
  'webhook-stall',
];
/** Users of the run (JWT subjects; created on first sight) and local accounts (sign-in attack). */
const PAIR = ['ab-pair-a', 'ab-pair-b'];
const ABUSER = 'ab-abuser';
const BULK_PREFIX = 'ab-m';
const VICTIM = { username: 'abuse-victim', password: 'victim-password-1' };
const PAIR_ACCOUNT = { username: 'abuse-pair', password: 'pair-password-1' };
/** The abuser's source address: per-address limits must not fall on the pair (127.0.0.1). */
const ABUSER_ADDRESS = '127.0.0.66';
/** After an attack's last frame, how long its answers may take before the attack is called over. */
const ANSWER_GRACE_MS = 8000;

const wsOptions = (token, localAddress) => ({
  headers: { authorization: `Bearer ${token}` },
  perMessageDeflate: false,
  skipUTF8Validation: true, // the abuser reads up to hundreds of MB; it only looks at the heads
  maxPayload: 512 * 1024 * 1024,
  generateMask: (mask) => mask.fill(0), // all-zero mask: ws skips masking (client CPU)
  ...(localAddress ? { localAddress } : {}),
});

/** Opens a socket and resolves once the server says `ready`; rejects after 15 s. */
function openSocket(url, token, localAddress, onMessage) {
  const ws = new WebSocket(`${url}/v1/ws`, wsOptions(token, localAddress));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('socket not ready in 15 s'));
    }, 15_000);
    let ready = false;
    ws.on('error', (err) => {
      if (!ready) {
        clearTimeout(timer);
        reject(err);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`upgrade answered ${res.statusCode}`));
    });
    ws.on('message', (data) => {
      if (!ready && data.subarray(0, 15).toString() === '{"type":"ready"') {
        ready = true;
        clearTimeout(timer);
        resolve(ws);
        return;
      }
      onMessage?.(data);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The pair (child process): A and B each send `rate` messages/s to their group, open loop; each
// records, for the other's messages, intended send time → arrival on its socket.

async function pairWorker() {
  const sent = new Map(); // n -> { t: intended send µs, latency?: µs }
  const errors = {};
  const closes = {};
  let unsent = 0;
  let stopping = false;
  let timer;

  process.on('message', (m) => handle(m).catch((err) => process.send({ ev: 'error', message: String(err?.stack ?? err) })));

  async function handle(m) {
    if (m.cmd === 'start') {
      const sockets = await Promise.all(m.users.map((user, i) => connect(m, user, m.tokens[i])));
      const period = 1e6 / m.rate;
      const start = nowMicros();
      const due = [0, 0];
      let n = 0;
      timer = setInterval(() => {
        const now = nowMicros();
        for (let side = 0; side < 2; side++) {
          // The two sides are half a period apart.
          for (let t = start + (due[side] + side / 2) * period; t <= now; t = start + (due[side] + side / 2) * period) {
            due[side]++;
            const id = ++n;
            const ws = sockets[side].ws;
            if (ws?.readyState !== WebSocket.OPEN) {
              unsent++;
              continue;
            }
            const stamp = Math.round(t);
            sent.set(id, { t: stamp });
            ws.send(`{"type":"send","id":${id},"group":"${m.group}","clientMsgId":"${m.tag}-${id}","text":"p|${id}|${stamp}|"}`);
          }
        }
      }, 5);
      process.send({ ev: 'started' });
    } else if (m.cmd === 'report') {
      process.send({ ev: 'report', ...(await report(m.from, m.to, m.waitMs)) });
    } else if (m.cmd === 'stop') {
      stopping = true;
      clearInterval(timer);
      process.send({ ev: 'stopped' });
      setTimeout(() => process.exit(0), 50);
    }
  }

  async function connect(m, user, token) {
    const side = { ws: undefined, reconnects: 0 };
    const onMessage = (data) => {
      const s = data.toString();
      if (s.startsWith('{"type":"error"')) {
        const code = /"code":"(\w+)"/.exec(s)?.[1] ?? '?';
        errors[code] = (errors[code] ?? 0) + 1;
        return;
      }
      if (!s.includes('"text":"p|')) return;
      const f = JSON.parse(s);
      if (f.type !== 'event' || f.sender === user) return;
      const [, id, t] = f.text.split('|');
      const rec = sent.get(Number(id));
      if (rec && rec.latency === undefined) rec.latency = Math.max(1, nowMicros() - Number(t));
    };
    const reconnect = () => {
      if (!stopping && side.reconnects++ < 20) setTimeout(() => open().catch(reconnect), 200);
    };
    const open = async () => {
      side.ws = await openSocket(m.url, token, undefined, onMessage);
      side.ws.on('close', (code) => {
        closes[code] = (closes[code] ?? 0) + 1;
        side.ws = undefined;
        reconnect();
      });
    };
    await open();
    return side;
  }

  /** Latencies of the messages meant to be sent in [from, to]; one still on its way counts its age. */
  async function report(from, to, waitMs) {
    const inWindow = () => [...sent.values()].filter((r) => r.t >= from && r.t <= to);
    const deadline = Date.now() + waitMs;
    while (inWindow().some((r) => r.latency === undefined) && Date.now() < deadline) await sleep(50);
    const now = nowMicros();
    const rows = inWindow();
    const latencies = rows.map((r) => r.latency ?? now - r.t).sort((a, b) => a - b);
    const at = (p) => (latencies.length ? latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)] : 0);
    const ms = (us) => Math.round(us / 10) / 100;
    return {
      count: latencies.length,
      undelivered: rows.filter((r) => r.latency === undefined).length,
      p50: ms(at(0.5)),
      p99: ms(at(0.99)),
      max: ms(at(1)),
      errors: { ...errors },
      closes: { ...closes },
      unsent,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.

/** One HTTP request on loopback; never throws (a failure is status 0). */
function request(port, method, urlPath, { token, body, localAddress, agent } = {}) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const started = nowMicros();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent,
        timeout: 60_000,
        ...(localAddress ? { localAddress } : {}),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString());
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, body: json, ms: (nowMicros() - started) / 1000 });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: err.message, ms: (nowMicros() - started) / 1000 }));
    req.end(payload);
  });
}

/** A request that must succeed (setup): 429 is waited out, anything else unexpected throws. */
async function must(port, method, urlPath, options, ok = [200, 201]) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await request(port, method, urlPath, options);
    if (ok.includes(r.status)) return r;
    if (r.status !== 429) throw new Error(`${method} ${urlPath}: ${r.status} ${JSON.stringify(r.body ?? r.error)}`);
    await sleep(Math.min(5000, Number(r.body?.error?.details?.retryAfterMs) || 500));
  }
  throw new Error(`${method} ${urlPath}: still 429 after 10 tries`);
}

/** Calls fn(i) for i < count, `ratePerS` per second on a fixed schedule, until count or duration. */
async function paced(ratePerS, durationMs, count, fn) {
  const start = Date.now();
  let i = 0;
  while (i < count && Date.now() - start < durationMs) {
    const due = Math.min(count, Math.floor(((Date.now() - start) / 1000) * ratePerS) + 1);
    while (i < due) fn(i++);
    await sleep(5);
  }
  return i;
}

const tally = (counts, key) => {
  counts[key] = (counts[key] ?? 0) + 1;
};
const describe = (counts, suffix = '') =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}${suffix} ×${v}`)
    .join(', ');

/** The abuser's socket: counts answers by type (errors by code) and closes by code; reconnects. */
class AbuserSocket {
  constructor(url, token) {
    Object.assign(this, { url, token, answers: {}, closes: {}, sent: 0, inFlight: 0, lost: 0, skipped: 0, bytes: 0, reconnects: 0 });
  }

  async open() {
    this.ws = await openSocket(this.url, this.token, ABUSER_ADDRESS, (data) => this.onMessage(data));
    this.ws.on('close', (code) => {
      tally(this.closes, code);
      this.ws = undefined;
      this.lost += this.inFlight; // a closed socket's unanswered frames are never answered
      this.inFlight = 0;
      this.reconnect();
    });
  }

  reconnect() {
    if (!this.stopped && this.reconnects++ < 20) setTimeout(() => this.open().catch(() => this.reconnect()), 100);
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  onMessage(data) {
    this.bytes += data.length;
    const head = data.toString('latin1', 0, Math.min(300, data.length));
    const type = /^\{"type":"(\w+)"/.exec(head)?.[1] ?? '?';
    if (!head.includes('"re":')) return; // pushed (events of its groups), not an answer
    this.inFlight = Math.max(0, this.inFlight - 1);
    tally(this.answers, type === 'error' ? (/"code":"(\w+)"/.exec(head)?.[1] ?? 'error') : type);
  }

  /** Sends on the open socket; while it is closed, the frame is dropped (and counted). */
  send(frame) {
    if (!this.isOpen) {
      this.skipped++;
      return;
    }
    this.sent++;
    this.inFlight++;
    this.ws.send(frame);
  }

  /** Waits for an answer to every frame sent on the open socket, or for the grace to run out. */
  async settle(graceMs = ANSWER_GRACE_MS) {
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && this.ws && Date.now() < deadline) await sleep(20);
  }

  /** Waits (at most `ms`) until the socket is open again after a close. */
  async whenOpen(ms) {
    const deadline = Date.now() + ms;
    while (!this.isOpen && Date.now() < deadline) await sleep(10);
  }

  close() {
    this.stopped = true;
    this.lost += this.inFlight;
    this.inFlight = 0;
    this.ws?.terminate();
  }

  summary() {
    const parts = [describe(this.answers)];
    if (Object.keys(this.closes).length) parts.push(`closes ${describe(this.closes)}`);
    if (this.lost) parts.push(`unanswered ×${this.lost}`);
    if (this.skipped) parts.push(`not sent (closed) ×${this.skipped}`);
    parts.push(`${(this.bytes / 2 ** 20).toFixed(1)} MiB received`);
    return parts.filter(Boolean).join('; ');
  }

  details() {
    const { answers, closes, sent, lost, skipped, bytes, reconnects } = this;
    return { answers, closes, sent, unanswered: lost, skipped, bytes, reconnects };
  }
}

/** With a socket: runs `body(socket)`, then waits for its answers; always closes it. */
async function withAbuserSocket(ctx, body) {
  const s = new AbuserSocket(ctx.wsUrl, ctx.tokens.abuser);
  await s.open();
  try {
    await body(s);
    await s.settle();
  } finally {
    s.close();
  }
  return { answered: s.summary(), abuser: s.details() };
}

const attacks = {
  /** 1000 made-up group ids per frame, at the socket rate limit. */
  'sync-flood': (ctx) =>
    withAbuserSocket(ctx, (s) =>
      paced(ctx.abuserRate, ctx.durationMs, ctx.abuserRate * ctx.durationS, (i) => {
        const groups = Array.from({ length: 1000 }, (_, k) => `"g_nope_${i}_${k}":0`).join(',');
        s.send(`{"type":"sync","id":"s${i}","groups":{${groups}}}`);
      }),
    ),

  /**
   * 20 syncs from 0 of a group of 500 messages of 4096 × `"` (4.1 MB once escaped: the most a
   * text can grow now that control characters are refused); after a close, on the next socket.
   */
  amplification: (ctx) =>
    withAbuserSocket(ctx, async (s) => {
      const deadline = Date.now() + ctx.durationMs + ANSWER_GRACE_MS;
      for (let i = 0; i < 20 && Date.now() < deadline; i++) {
        await s.whenOpen(deadline - Date.now());
        s.send(`{"type":"sync","id":"a${i}","groups":{"${ctx.ampGroup}":0}}`);
        await sleep(1000 / ctx.abuserRate);
      }
    }),

  /** POST /v1/groups with 1000 members, three times in a row. */
  'bulk-create': async (ctx) => {
    const statuses = {};
    const times = [];
    const members = Array.from({ length: 1000 }, (_, i) => `${BULK_PREFIX}${i}`);
    const deadline = Date.now() + 40_000;
    for (let i = 0; i < 3 && Date.now() < deadline; i++) {
      const r = await request(ctx.port, 'POST', '/v1/groups', {
        token: ctx.tokens.abuser,
        body: { name: `bulk ${i}`, members },
        localAddress: ABUSER_ADDRESS,
      });
      tally(statuses, r.status);
      times.push(Math.round(r.ms));
    }
    return { answered: `${describe(statuses, ' HTTP')} (${times.join(', ')} ms)`, abuser: { statuses, times } };
  },

  /** 64 wrong passwords for one username over 16 connections, while the pair signs in for real. */
  'sign-in': async (ctx) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = {};
    const deadline = Date.now() + 40_000;
    let tried = 0;
    let done = false;
    const lane = async () => {
      while (tried < 64 && Date.now() < deadline) {
        tried++;
        const r = await request(ctx.port, 'POST', '/v1/sessions', {
          body: { username: VICTIM.username, password: `wrong-guess-${tried}` },
          localAddress: ABUSER_ADDRESS,
          agent,
        });
        tally(statuses, r.status);
      }
    };
    const real = [];
    const pair = (async () => {
      await sleep(200); // inside the flood
      while (!done || real.length === 0) {
        const r = await request(ctx.port, 'POST', '/v1/sessions', { body: PAIR_ACCOUNT });
        real.push({ status: r.status, ms: Math.round(r.ms) });
        if (Date.now() > deadline) break;
        await sleep(250);
      }
    })();
    await Promise.all(Array.from({ length: 16 }, lane));
    done = true;
    await pair;
    agent.destroy();
    const ms = real.map((r) => r.ms);
    const realStatuses = {};
    for (const r of real) tally(realStatuses, r.status);
    return {
      answered: `${describe(statuses, ' HTTP')}; pair sign-in ${ctx.signInBefore.join('/')} → ${ms.slice(0, 5).join('/')}${ms.length > 5 ? '/…' : ''} ms (${describe(realStatuses, ' HTTP')})`,
      abuser: { statuses, tried, pairSignIn: { without: ctx.signInBefore, with: real } },
    };
  },

  /** 10 addresses, each within its own sign-in limits, flood the password hashing (load/abuse/sign-in-spread.mjs). */
  'sign-in-spread': (ctx) => signInSpread(ctx, { request, tally, describe, sleep, pairAccount: PAIR_ACCOUNT }),

  /** A reaction on a message of the pair's group, set and removed, at the socket rate limit. */
  reactions: (ctx) =>
    withAbuserSocket(ctx, (s) =>
      paced(ctx.abuserRate, ctx.durationMs, ctx.abuserRate * ctx.durationS, (i) =>
        s.send(`{"type":"react","id":"r${i}","group":"${ctx.pairGroup}","target":${ctx.reactTarget},"emoji":${i % 2 ? 'null' : '"👍"'}}`),
      ),
    ),

  /** 410 frames/s of 60 KB for 4.5 s on one socket (reconnecting when closed), far over the limit. */
  'frame-flood': (ctx) => {
    const pad = 'x'.repeat(60 * 1024 - 48);
    return withAbuserSocket(ctx, (s) => paced(410, 4500, 1845, (i) => s.send(`{"type":"ping","id":"f${i}","pad":"${pad}"}`)));
  },

  /** Tiny AVIFs of 6300 × 6300 px and 36-megapixel JPEGs, 4 at a time, while another user uploads a photo (load/abuse/image-bomb.mjs). */
  'image-bomb': (ctx) => imageBomb(ctx, ABUSER_ADDRESS),

  /** 20 sockets of the abuser, each sending to its own group at the socket rate limit (issue 35, 5). */
  'many-sockets': (ctx) => manySockets(ctx, { AbuserSocket, paced, describe }),

  /** 5 accounts searching 4000 Hindi messages of theirs at their search limit (issue 35, 13). */
  'search-flood': (ctx) => searchFlood(ctx, { request, paced, describe, tally, abuserAddress: ABUSER_ADDRESS }),

  /** 20 webhooks that never answer, fired 5×/s; a well-behaved community's webhook timed (load/abuse/webhook-stall.mjs). */
  'webhook-stall': (ctx) => webhookStall(ctx, { must }),
};

// ---------------------------------------------------------------------------------------------

async function main() {
  const chosen = list(o.attacks);
  for (const a of chosen) if (!ATTACKS.includes(a)) throw new Error(`unknown attack ${a} (known: ${ATTACKS.join(', ')})`);
  const runEnd = Date.now() + Number(o['timeout-s']) * 1000 - 30_000;
  const startedAt = new Date().toISOString();
  const results = {};
  for (const mode of list(o.modes)) {
    if (mode !== 'pglite' && mode !== 'postgres') throw new Error(`unknown mode ${mode}`);
    results[mode] = await runMode(mode, chosen, runEnd);
    table(`abuse, ${mode}: pair at ${o.rate} msg/s each way; ms without → with the abuser`, results[mode].map(tableRow));
  }
  writeResult('abuse', {
    startedAt,
    parameters: {
      modes: list(o.modes),
      attacks: chosen,
      durationS: Number(o['duration-s']),
      pairRatePerS: Number(o.rate),
      abuserRatePerS: Number(o['abuser-rate']),
      database: DATABASE_URL.replace(/\/\/[^@]*@/, '//'),
    },
    results,
  });
  process.exit(0);
}

const arrow = (a, b) => `${a} → ${b}`;
/** What went wrong for the pair besides latency: messages never delivered, errors, closes. */
function pairTrouble(w) {
  const notes = [];
  if (w.undelivered) notes.push(`${w.undelivered} of ${w.count} undelivered`);
  for (const [code, n] of Object.entries(w.errors)) notes.push(`${code} ×${n}`);
  for (const [code, n] of Object.entries(w.closes)) notes.push(`close ${code} ×${n}`);
  if (w.unsent) notes.push(`${w.unsent} unsent`);
  return notes.length ? ` (pair: ${notes.join(', ')})` : '';
}
function tableRow(r) {
  if (r.skipped) return { attack: r.attack, 'abuser answered': r.skipped };
  return {
    attack: r.attack,
    'pair p50': arrow(r.without.p50, r.with.p50),
    p99: arrow(r.without.p99, r.with.p99),
    max: arrow(r.without.max, r.with.max),
    ratio: `${r.ratio}×`,
    target: `${r.pass ? 'pass' : 'FAIL'}${pairTrouble(r.with)}`,
    'abuser answered': r.answered,
  };
}

async function startServer(port, env) {
  if ((await request(port, 'GET', '/healthz')).status !== 0) throw new Error(`port ${port} is in use (--port)`);
  const target = await startBanyan({ replicas: 1, port, env, ...(o.profile ? { profileDir: o.profile } : {}) });
  // /healthz names its pid: the server answering is the one just started.
  const health = await request(port, 'GET', '/healthz');
  if (health.body?.pid !== target.pids[0]) throw new Error(`port ${port}: /healthz answered by pid ${health.body?.pid}`);
  return target;
}

async function runMode(mode, chosen, runEnd) {
  const port = Number(o.port);
  const dataDir = mode === 'pglite' ? mkdtempSync(path.join(os.tmpdir(), 'banyan-abuse-')) : undefined;
  const env = {
    LOG_LEVEL: 'error', // attacks make warnings by the thousand
    RATE_LIMIT_PER_S: '', // the server's defaults, not the harness's raised limits
    RATE_LIMIT_BURST: '',
    USER_RATE_LIMIT_PER_S: '',
    USER_RATE_LIMIT_BURST: '',
    SOCKETS_PER_USER: '',

    WEBHOOK_ALLOW_PRIVATE: 'on', // webhook-stall's endpoints are on 127.0.0.1
    ...(mode === 'pglite' ? { DATABASE_URL: '', DATA_DIR: dataDir } : {}),
  };
  progress(`== ${mode}${dataDir ? ` (DATA_DIR ${dataDir})` : ''}`);
  const rows = [];
  try {
    let target = await startServer(port, env);
    let ctx;
    try {
      ctx = await prepare(port, chosen);
    } finally {
      await target.stop();
    }
    for (const attack of chosen) {
      if (Date.now() + 60_000 > runEnd) {
        rows.push({ attack, skipped: 'skipped: out of time' });
        continue;
      }
      target = await startServer(port, env);
      try {
        rows.push(await runAttack(ctx, attack, mode));
      } catch (err) {
        progress(`${attack}: ${err.stack ?? err}`);
        rows.push({ attack, skipped: `failed: ${err.message}` });
      } finally {
        await target.stop();
      }
    }
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

/** Users, groups and accounts the attacks need; everything through the API, so both modes alike. */
async function prepare(port, chosen) {
  const started = Date.now();
  const tokens = { pair: await Promise.all(PAIR.map((u) => mintToken(SECRET, u))), abuser: await mintToken(SECRET, ABUSER) };
  for (const token of [...tokens.pair, tokens.abuser]) await must(port, 'GET', '/v1/me', { token });
  // Both agree to be added (docs/protocol.md §8 "Privacy and safety": by default only users who already share a group may add them).
  for (const token of [tokens.pair[1], tokens.abuser]) {
    await must(port, 'PATCH', '/v1/me', { token, body: { privacy: { groupAdd: 'everyone' } } });
  }
  const pairGroup = (
    await must(port, 'POST', '/v1/groups', { token: tokens.pair[0], body: { name: 'abuse pair', members: [PAIR[1], ABUSER] } })
  ).body.group.id;
  const reactTarget = (
    await must(port, 'POST', `/v1/groups/${pairGroup}/messages`, {
      token: tokens.abuser,
      body: { clientMsgId: `react-${Date.now()}`, text: 'react to me' },
    })
  ).body.seq;
  const ctx = { port, wsUrl: `ws://127.0.0.1:${port}`, tokens, pairGroup, reactTarget };
  if (chosen.includes('bulk-create')) {
    // 1000 users, each created on first sight by GET /v1/me, each from its own source address.
    progress('setup: 1000 users for bulk-create');
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < 1000; i = next++) {
        await must(port, 'GET', '/v1/me', {
          token: await mintToken(SECRET, `${BULK_PREFIX}${i}`),
          localAddress: `127.0.${10 + (i >> 8)}.${i & 255 || 1}`,
        });
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
  }
  if (chosen.includes('amplification')) {
    progress('setup: 500 messages of 4096 × " for amplification');
    ctx.ampGroup = (await must(port, 'POST', '/v1/groups', { token: tokens.abuser, body: { name: 'amplifier' } })).body.group.id;
    await fill(ctx.wsUrl, tokens.abuser, ctx.ampGroup, 500, '"'.repeat(4096));
  }
  if (chosen.includes('many-sockets')) {
    ctx.abuserGroup = (await must(port, 'POST', '/v1/groups', { token: tokens.abuser, body: { name: 'many sockets' } })).body.group.id;
  }
  if (chosen.includes('search-flood')) ctx.searchFlood = await prepareSearchFlood(port, { must, mintToken, secret: SECRET, progress });
  if (chosen.includes('sign-in') || chosen.includes('sign-in-spread')) {
    for (const account of [VICTIM, PAIR_ACCOUNT]) await must(port, 'POST', '/v1/accounts', { body: account }, [201, 409]);
  }
  progress(`setup: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ctx;
}

/** Sends `count` messages to a group over 4 sockets, within the rate limits (per socket and per user), until all are acked. */
async function fill(url, token, group, count, text) {
  const acked = new Set();
  const deadline = Date.now() + 90_000;
  for (let round = 0; acked.size < count && round < 5 && Date.now() < deadline; round++) {
    const todo = Array.from({ length: count }, (_, i) => i).filter((i) => !acked.has(i));
    const lanes = await Promise.all(
      Array.from({ length: 4 }, () =>
        openSocket(url, token, undefined, (data) => {
          const m = /^\{"type":"ack","re":(\d+)/.exec(data.toString('latin1', 0, 40));
          if (m) acked.add(Number(m[1]));
        }),
      ),
    );
    await Promise.all(
      lanes.map(async (ws, lane) => {
        const mine = todo.filter((i) => i % 4 === lane);
        for (const i of mine) {
          ws.send(JSON.stringify({ type: 'send', id: i, group, clientMsgId: `amp-${i}`, text }));
          await sleep(100); // 10/s per socket, 40/s together: under the default 50/s of a socket and of a user
        }
      }),
    );
    while (todo.some((i) => !acked.has(i)) && Date.now() < deadline) await sleep(100);
    for (const ws of lanes) ws.terminate();
  }
  if (acked.size < count) throw new Error(`amplification setup: ${acked.size}/${count} messages acked`);
}

/** A command to the pair worker and its one answer (within 30 s). */
function ask(child, m) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`pair worker: no answer to ${m.cmd} in 30 s`)), 30_000);
    const done = (err, r) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      if (err) reject(err);
      else resolve(r);
    };
    const onMessage = (r) => (r.ev === 'error' ? done(new Error(`pair worker: ${r.message}`)) : done(undefined, r));
    child.on('message', onMessage);
    child.send(m);
  });
}

async function runAttack(ctx, attack, mode) {
  const durationS = Number(o['duration-s']);
  const pair = forkWorker('pair', fileURLToPath(import.meta.url), ['--pair-worker']);
  try {
    await ask(pair, {
      cmd: 'start',
      url: ctx.wsUrl,
      users: PAIR,
      tokens: ctx.tokens.pair,
      group: ctx.pairGroup,
      rate: Number(o.rate),
      tag: `p${Date.now().toString(36)}`,
    });
    await sleep(2000); // warm-up, not measured
    progress(`${mode} ${attack}: pair alone for ${durationS} s`);
    const from = nowMicros();
    await sleep(durationS * 1000);
    const to = nowMicros();
    const signInBefore = [];
    if (attack === 'sign-in' || attack === 'sign-in-spread') {
      for (let i = 0; i < 3; i++) signInBefore.push(Math.round((await must(ctx.port, 'POST', '/v1/sessions', { body: PAIR_ACCOUNT })).ms));
    }
    progress(`${mode} ${attack}: abuser on`);
    const attackFrom = nowMicros();
    const outcome = await attacks[attack]({
      ...ctx,
      durationS,
      durationMs: durationS * 1000,
      abuserRate: Number(o['abuser-rate']),
      signInBefore,
    });
    // The window with the abuser: its whole attack (to its last answer), and at least as long as
    // the one without, since work the server queued may outlast an abuser that was closed.
    const took = (nowMicros() - attackFrom) / 1000;
    if (took < durationS * 1000) await sleep(durationS * 1000 - took);
    const attackTo = nowMicros();
    const without = await ask(pair, { cmd: 'report', from, to, waitMs: 3000 });
    const withAbuser = await ask(pair, { cmd: 'report', from: attackFrom, to: attackTo, waitMs: 8000 });
    await ask(pair, { cmd: 'stop' });
    const ratio = Math.round((withAbuser.p99 / Math.max(0.01, without.p99)) * 10) / 10;
    const row = {
      attack,
      without: strip(without),
      with: strip(withAbuser),
      attackSeconds: Math.round(took / 100) / 10,
      windowSeconds: Math.round((attackTo - attackFrom) / 1e5) / 10,
      ratio,
      // An attack may add a target of its own (webhook-stall: the other community's webhook in 2 s;
      // sign-in-spread: the pair's sign-in time).
      pass: withAbuser.p99 < 2 * without.p99 && withAbuser.p99 < 100 && withAbuser.undelivered === 0 && outcome.pass !== false,
      answered: outcome.answered,
      abuser: outcome.abuser,
    };
    progress(
      `${mode} ${attack}: p99 ${without.p99} → ${withAbuser.p99} ms (max ${withAbuser.max}, ${withAbuser.undelivered} undelivered); ${outcome.answered}`,
    );
    return row;
  } finally {
    await stopProcess(pair, 'SIGTERM', 2000);
  }
}

const strip = ({ ev, ...rest }) => rest;

// Last, so that every declaration above is initialised before it runs.
let o;
if (process.argv.includes('--pair-worker')) {
  await pairWorker();
} else {
  o = args(
    'abuse',
    {
      modes: { type: 'string' },
      attacks: { type: 'string' },
      'duration-s': { type: 'string' },
      rate: { type: 'string' },
      'abuser-rate': { type: 'string' },
      port: { type: 'string' },
      profile: { type: 'string' },
    },
    {
      modes: 'pglite,postgres',
      attacks: ATTACKS.join(','),
      'duration-s': '6',
      rate: '20',
      'abuser-rate': '50',
      port: '9380',
      'timeout-s': '600',
    },
  );
  await main();
}
