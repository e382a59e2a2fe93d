// embedded-fsync: what flushing every commit to disk costs in embedded mode (issue 11). One
// `node dist/main.js start` on PGlite (a fresh DATA_DIR each run), EMBEDDED_FSYNC=on and off in
// alternate runs; `sockets` sockets of one user each keep `inflight` sends outstanding (closed
// loop) to one group for `duration-s`; acks per second and ack latency. Loopback, bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mintToken } from './lib/admin.mjs';
import { newHistogram, percentiles, progress, table, writeResult } from './lib/report.mjs';
import { args } from './lib/run.mjs';
import { SECRET, startBanyan } from './lib/targets.mjs';

const o = args(
  'embedded-fsync',
  {
    rounds: { type: 'string' },
    sockets: { type: 'string' },
    inflight: { type: 'string' },
    'duration-s': { type: 'string' },
    port: { type: 'string' },
  },
  { rounds: '2', sockets: '4', inflight: '8', 'duration-s': '5', port: '9390', 'timeout-s': '300' },
);
const port = Number(o.port);

async function http(method, path, token, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function open(token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}` } });
    const timer = setTimeout(() => reject(new Error('socket not ready in 15 s')), 15_000);
    ws.on('error', reject);
    ws.on('message', function first(data) {
      if (!data.toString().startsWith('{"type":"ready"')) return;
      clearTimeout(timer);
      ws.off('message', first);
      resolve(ws);
    });
  });
}

/** One run: a fresh server and DATA_DIR; returns acks/s and the ack latency histogram. */
async function run(fsync) {
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-fsync-'));
  const target = await startBanyan({
    replicas: 1,
    port,
    env: { DATABASE_URL: '', DATA_DIR: dataDir, EMBEDDED_FSYNC: fsync ? 'on' : 'off' },
    ...(process.env.PROFILE_DIR ? { profileDir: process.env.PROFILE_DIR } : {}),
  });
  try {
    const token = await mintToken(SECRET, `fsync-${Date.now()}`);
    await http('GET', '/v1/me', token);
    const group = (await http('POST', '/v1/groups', token, { name: 'fsync', members: [] })).group.id;
    const sockets = await Promise.all(Array.from({ length: Number(o.sockets) }, () => open(token)));
    const latency = newHistogram();
    const end = Date.now() + Number(o['duration-s']) * 1000;
    let acks = 0;
    let next = 0;
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise((resolve) => {
            const sentAt = new Map();
            let outstanding = 0;
            const sendOne = () => {
              const id = next++;
              sentAt.set(id, performance.now());
              outstanding++;
              ws.send(JSON.stringify({ type: 'send', id, group, clientMsgId: `m${id}`, text: `message ${id}` }));
            };
            ws.on('message', (data) => {
              const m = /^\{"type":"ack","re":(\d+)/.exec(data.toString('latin1', 0, 40));
              if (!m) return;
              const id = Number(m[1]);
              latency.recordValue(Math.max(1, Math.round((performance.now() - sentAt.get(id)) * 1000)));
              sentAt.delete(id);
              outstanding--;
              acks++;
              if (Date.now() < end) sendOne();
              else if (outstanding === 0) resolve();
            });
            for (let i = 0; i < Number(o.inflight); i++) sendOne();
          }),
      ),
    );
    const seconds = Number(o['duration-s']);
    for (const ws of sockets) ws.terminate();
    return { acksPerS: acks / seconds, latency: percentiles(latency) };
  } finally {
    await target.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results = { on: [], off: [] };
for (let round = 0; round < Number(o.rounds); round++) {
  for (const fsync of [true, false]) {
    const r = await run(fsync);
    progress(`EMBEDDED_FSYNC=${fsync ? 'on' : 'off'}: ${Math.round(r.acksPerS)} acks/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
    results[fsync ? 'on' : 'off'].push(r);
  }
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows = ['on', 'off'].map((k) => ({
  EMBEDDED_FSYNC: k,
  'acks/s (mean of runs)': Math.round(mean(results[k].map((r) => r.acksPerS))),
  'p50 ms': results[k].map((r) => r.latency.p50).join(' / '),
  'p99 ms': results[k].map((r) => r.latency.p99).join(' / '),
}));
table(`embedded mode, ${o.sockets} sockets × ${o.inflight} sends in flight, ${o['duration-s']} s per run`, rows);
progress(`fsync on / off throughput: ${(rows[0]['acks/s (mean of runs)'] / rows[1]['acks/s (mean of runs)']).toFixed(2)}×`);
writeResult('embedded-fsync', { options: o, results });
