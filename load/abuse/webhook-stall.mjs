// webhook-stall (issue 35, defect 2): the abuser's community points its 20 webhooks at endpoints
// that accept and never answer, and announces 5 times a second, so each announcement owes 20
// requests that hold whatever they are given for PUSH_TIMEOUT_MS. Meanwhile a well-behaved
// community announces twice a second to its one webhook (an SMS bridge that answers at once);
// measured: each of its announcements' time from the POST's answer to its webhook's arrival.
// Target: every one delivered within 2 s (docs/protocol.md §8, Isolation), with the pair's p99
// measured by abuse.mjs as for every attack. Both endpoints are HTTP servers in this process.
import http from 'node:http';
import { mintToken } from '../lib/admin.mjs';
import { sleep } from '../lib/proc.mjs';
import { SECRET } from '../lib/targets.mjs';

const HOOKS = 20;
const ABUSER_RATE = 5;
const GOOD_RATE = 2;
const TARGET_MS = 2000;
/** How long the well-behaved community's last announcements may take to arrive before they count as undelivered. */
const WAIT_MS = 15_000;

/** An HTTP server on 127.0.0.1: `handle(req, res, body)` answers (or not). */
async function listen(handle) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] : 0);

/** The attack; `must` is abuse.mjs's request-that-must-succeed. */
export async function webhookStall(ctx, { must }) {
  let stalled = 0;
  const hang = await listen(() => {
    stalled++; // read, never answered
  });
  const arrivedAt = new Map(); // announcement text → ms
  const bridge = await listen((_req, res, body) => {
    const text = JSON.parse(body)?.data?.text;
    if (typeof text === 'string' && !arrivedAt.has(text)) arrivedAt.set(text, Date.now());
    res.writeHead(204).end();
  });
  const tag = Date.now().toString(36);
  const token = { abuser: ctx.tokens.abuser, good: await mintToken(SECRET, 'ab-bridge-admin') };
  try {
    const community = async (who, name) =>
      (await must(ctx.port, 'POST', '/v1/communities', { token: token[who], body: { name } })).body.community.id;
    const abuserCommunity = await community('abuser', `stall ${tag}`);
    for (let i = 0; i < HOOKS; i++) {
      await must(ctx.port, 'POST', `/v1/communities/${abuserCommunity}/webhooks`, {
        token: token.abuser,
        body: { url: `${hang.url}/stall/${i}`, events: ['announcement', 'message', 'mention'] },
      });
    }
    const goodCommunity = await community('good', `bridge ${tag}`);
    await must(ctx.port, 'POST', `/v1/communities/${goodCommunity}/webhooks`, {
      token: token.good,
      body: { url: `${bridge.url}/sms`, events: ['announcement'] },
    });
    const announce = (who, id, text) =>
      must(ctx.port, 'POST', `/v1/communities/${id}/announcements`, { token: token[who], body: { clientMsgId: text, text } });

    const deadline = Date.now() + ctx.durationMs;
    let abuserSent = 0;
    const abuser = (async () => {
      while (Date.now() < deadline) {
        await announce('abuser', abuserCommunity, `stall-${tag}-${abuserSent++}`);
        await sleep(1000 / ABUSER_RATE);
      }
    })();
    const sentAt = new Map();
    await sleep(1000); // the stalled requests take their slots first
    for (let i = 0; Date.now() < deadline; i++) {
      const text = `sms-${tag}-${i}`;
      await announce('good', goodCommunity, text);
      sentAt.set(text, Date.now());
      await sleep(1000 / GOOD_RATE);
    }
    await abuser;
    const waitUntil = Date.now() + WAIT_MS;
    while ([...sentAt.keys()].some((t) => !arrivedAt.has(t)) && Date.now() < waitUntil) await sleep(50);
    const times = [...sentAt].filter(([t]) => arrivedAt.has(t)).map(([t, at]) => Math.max(0, arrivedAt.get(t) - at));
    times.sort((a, b) => a - b);
    const undelivered = sentAt.size - times.length;
    const late = times.filter((ms) => ms > TARGET_MS).length;
    const webhook = { sent: sentAt.size, undelivered, late, p50: pct(times, 0.5), p99: pct(times, 0.99), max: pct(times, 1) };
    return {
      answered: `good community's webhook ${webhook.p50}/${webhook.max} ms p50/max, ${late} over ${TARGET_MS} ms, ${undelivered} of ${webhook.sent} undelivered; abuser: ${abuserSent} announcements × ${HOOKS} hooks, ${stalled} requests stalled`,
      abuser: { announcements: abuserSent, hooks: HOOKS, stalledRequests: stalled, webhook },
      pass: undelivered === 0 && late === 0,
    };
  } finally {
    await hang.close();
    await bridge.close();
  }
}
