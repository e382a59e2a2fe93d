// Presence churn (load/presence.mjs): sockets of users `<prefix>0…` connect (to the replicas in
// turn), wait for `ready`, stay `holdMs`, close, and come back later: an open loop of `ratePerS`
// connections a second between `go` and `pause`. Counts connects, closes, failures and presence frames.
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
  timer = setInterval(() => {
    // Open loop: what the rate says is due by now, whatever the server's answers.
    const target = Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerS);
    for (; due < target; due++) {
      const i = next++ % options.total;
      cycle(options.urls[i % options.urls.length], tokens[i], options.holdMs);
    }
  }, TICK_MS);
}

function cycle(url, token, holdMs) {
  stats.started++;
  const ws = new WebSocket(`${url}/v1/ws`, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}` } });
  let hold;
  ws.on('message', (data) => {
    const s = data.toString();
    if (s.startsWith('{"type":"ready"')) {
      stats.ready++;
      hold = setTimeout(() => ws.close(), holdMs);
    } else if (s.startsWith('{"type":"presence"')) stats.presenceFrames++;
    else if (s.startsWith('{"type":"user"')) stats.userFrames++;
  });
  ws.on('error', () => stats.failed++);
  ws.on('close', () => {
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
