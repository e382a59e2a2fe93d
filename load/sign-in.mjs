// sign-in: autocannon against POST /v1/sessions of one Banyan process, with new hashes made by
// Argon2id (OWASP's m=19456 KiB, t=2, p=1, as shipped) and by scrypt (N=2^17, r=8, p=1, what
// came before), side by side in one run (PASSWORD_HASH=argon2id|scrypt, `--rounds` alternations).
// For each: CPU per sign-in (the server process's), sign-ins/s and p99 with 50 sign-ins at once
// (closed loop), and p99 at a fixed 20 sign-ins/s (the goal: under 500 ms, issue 29). Each
// connection is its own member at its own address (TRUST_PROXY), as real sign-ins are: the
// password line (PASSWORD_LINE_PER_KEY, per address and per username) is as it ships.
import os from 'node:os';
import autocannon from 'autocannon';
import { args, list, sample, sleep } from './lib/run.mjs';
import { cpuBetween, secondsBetween } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { startBanyan } from './lib/targets.mjs';

const o = args(
  'sign-in',
  {
    schemes: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    'duration-s': { type: 'string' },
    rounds: { type: 'string' },
  },
  { schemes: 'argon2id,scrypt', connections: '50', rate: '20', 'duration-s': '10', rounds: '1' },
);

const PASSWORD = 'password-123';
const connections = Number(o.connections);
const duration = Number(o['duration-s']);
const rate = Number(o.rate);

/** One member per connection: its username and its address (x-forwarded-for). */
const members = (prefix, n) =>
  Array.from({ length: n }, (_, i) => ({ username: `${prefix}${i}`, address: `10.${Math.floor(i / 250)}.${i % 250}.${1 + (i % 200)}` }));

async function measure(target, who, { connections: n, overallRate }) {
  let next = 0;
  const setupClient = (client) => {
    const m = who[next++ % who.length];
    client.setHeaders({ 'content-type': 'application/json', 'x-forwarded-for': m.address });
    client.setBody(JSON.stringify({ username: m.username, password: PASSWORD }));
  };
  const from = sample(target.pids);
  const r = await autocannon({
    url: `http://127.0.0.1:${target.ports[0]}/v1/sessions`,
    method: 'POST',
    setupClient,
    connections: n,
    duration,
    timeout: 30,
    ...(overallRate ? { overallRate } : {}),
  });
  const to = sample(target.pids);
  const ok = r.requests.total - r.non2xx;
  return {
    signInsPerS: Math.round((ok / duration) * 10) / 10,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    refused: r.non2xx,
    errors: r.errors + r.timeouts,
    cpuMsPerSignIn: Math.round(cpuBetween(from, to) / Math.max(1, ok) / 100) / 10,
    serverCpuPct: Math.round(cpuBetween(from, to) / secondsBetween(from, to) / 1e4),
  };
}

/** Waits until the server has answered what the last run left waiting: its CPU goes quiet (at most 3 min). */
async function settle(target) {
  for (let i = 0; i < 180; i++) {
    const from = sample(target.pids);
    await sleep(1000);
    const to = sample(target.pids);
    // Under 10 % of a core (CPU in microseconds per second).
    if (cpuBetween(from, to) / secondsBetween(from, to) < 1e5) return;
  }
}

const results = [];
for (let round = 0; round < Number(o.rounds); round++) {
  for (const scheme of list(o.schemes)) {
    const target = await startBanyan({
      replicas: 1,
      name: scheme,
      env: {
        PASSWORD_HASH: scheme,
        TRUST_PROXY: 'on',
        SIGNIN_FREE_FAILS: '1000000',
        SIGNIN_ADDRESS_FREE_FAILS: '1000000',
        SIGNUP_RATE_ADDRESS: '1000000/1',
      },
    });
    try {
      const prefix = `si${scheme.slice(0, 2)}${Date.now().toString(36)}`;
      const who = members(prefix, Math.max(connections, rate));
      progress(`sign-in ${scheme}: signing up ${who.length} members`);
      for (let i = 0; i < who.length; i += 4) {
        await Promise.all(
          who.slice(i, i + 4).map(async (m) => {
            const res = await fetch(`http://127.0.0.1:${target.ports[0]}/v1/accounts`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-forwarded-for': m.address },
              body: JSON.stringify({ username: m.username, password: PASSWORD }),
            });
            if (res.status !== 201) throw new Error(`sign-up of ${m.username}: ${res.status} ${await res.text()}`);
          }),
        );
      }
      // A short warm-up (JIT, the database pool), unmeasured; then each run starts on an empty
      // line (`settle`: what autocannon left unanswered is served first). The fixed rate has as
      // many connections as the closed loop, so slow answers do not lower the rate offered.
      progress(`sign-in ${scheme}: warming up`);
      for (let i = 0; i < 10; i++) {
        await fetch(`http://127.0.0.1:${target.ports[0]}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': who[i].address },
          body: JSON.stringify({ username: who[i].username, password: PASSWORD }),
        });
      }
      await settle(target);
      progress(`sign-in ${scheme}: ${rate}/s for ${duration} s`);
      const n = Math.max(rate, connections);
      results.push({ scheme, load: `${rate}/s`, ...(await measure(target, who, { connections: n, overallRate: rate })) });
      await settle(target);
      progress(`sign-in ${scheme}: ${connections} at once for ${duration} s`);
      results.push({ scheme, load: `${connections} at once`, ...(await measure(target, who, { connections })) });
    } finally {
      await target.stop();
    }
  }
}
table(
  `sign-in: ${duration} s each; each connection its own member and address; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
  results,
);
const cpu = (scheme) => results.find((r) => r.scheme === scheme && r.load.endsWith('at once'))?.cpuMsPerSignIn;
if (cpu('argon2id') && cpu('scrypt')) progress(`CPU per sign-in, argon2id/scrypt: ${(cpu('argon2id') / cpu('scrypt')).toFixed(3)}`);
writeResult('sign-in', { parameters: { connections, rate, durationS: duration, rounds: Number(o.rounds) }, results });
process.exit(0);
