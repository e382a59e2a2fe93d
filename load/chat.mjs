// S3 chat: users in groups of 10, all connected; senders post at a fixed rate (open loop) over
// WS, in steps of rising rate. Per step: send->ack and send->delivery (every member socket,
// the sender's included), loss, and rows in PostgreSQL equal to acks.
import { args, connectBenchUsers, list, sleep, withSystem } from './lib/run.mjs';
import { cpuBetween, sample, secondsBetween } from './lib/proc.mjs';
import { percentiles, progress, table, writeResult } from './lib/report.mjs';
import { countEvents, seed } from './lib/targets.mjs';

const o = args(
  'chat',
  {
    users: { type: 'string' },
    processes: { type: 'string' },
    rates: { type: 'string' },
    'step-s': { type: 'string' },
    'text-bytes': { type: 'string' },
    workers: { type: 'string' },
    profile: { type: 'string' },
    'warmup-rate': { type: 'string' },
    // banyan-before: the build in BENCH_BEFORE_ROOT (before/after comparisons).
    system: { type: 'string' },
  },
  { users: '20000', processes: '2', rates: '1000,2000,4000,6000,8000,10000,12000', 'step-s': '8', 'text-bytes': '100', system: 'banyan' },
);
const N = Number(o.users);
const GROUP = 10;
const stepMs = Number(o['step-s']) * 1000;

const steps = [];
await withSystem(
  {
    system: o.system,
    processes: Number(o.processes),
    sockets: N,
    clientWorkers: o.workers ? Number(o.workers) : undefined,
    targetOptions: o.profile ? { profileDir: o.profile } : {},
  },
  async (target, clients) => {
    await seed({ users: N, chatGroupSize: GROUP });
    const connected = await connectBenchUsers(clients, target, N, { chatGroups: true });
    progress(`banyan: ${connected.ready}/${N} ready in ${connected.seconds.toFixed(1)} s`);
    // Warm-up, not measured: every socket sends once (caches, JIT, connection pool).
    const warm = Number(o['warmup-rate'] ?? 4000);
    if (warm > 0) {
      progress(`warm-up: ${N} messages at ${warm}/s`);
      await clients.all(() => ({ cmd: 'chat', ratePerS: warm / clients.workers.length, durationMs: (N / warm) * 1000, textBytes: 10 }));
      // Until the warm-up is stored and answered, so that steps start from an idle server.
      for (let t = 0; t < 60 && (await clients.report()).unacked > 0; t++) await sleep(500);
      await sleep(1000);
    }
    for (const rate of list(o.rates).map(Number)) {
      const rowsBefore = await countEvents('g-bench-c%');
      await clients.reset();
      const serverFrom = sample(target.pids);
      const clientFrom = sample(clients.pids);
      clients.showProgress(`chat ${rate}/s`);
      await clients.all(() => ({
        cmd: 'chat',
        ratePerS: rate / clients.workers.length,
        durationMs: stepMs,
        textBytes: Number(o['text-bytes']),
      }));
      // Let what was sent arrive: acks, then every member's copy.
      let r = await clients.report();
      const deadline = Date.now() + 5000;
      while ((r.unacked > 0 || r.delivered < r.acked * GROUP) && Date.now() < deadline) {
        await sleep(250);
        r = await clients.report();
      }
      clients.stopProgress();
      const serverTo = sample(target.pids);
      const clientTo = sample(clients.pids);
      const rows = (await countEvents('g-bench-c%')) - rowsBefore;
      const ack = percentiles(r.ack);
      const delivery = percentiles(r.delivery);
      const seconds = secondsBetween(serverFrom, serverTo);
      const step = {
        ratePerS: rate,
        ready: r.ready,
        sent: r.sent,
        acked: r.acked,
        rowsStored: rows,
        delivered: r.delivered,
        lost: r.acked * GROUP - r.delivered + r.unacked,
        ackP50: ack.p50,
        ackP99: ack.p99,
        deliveryP50: delivery.p50,
        deliveryP99: delivery.p99,
        persistedPerS: Math.round(rows / (stepMs / 1000)),
        serverCpuPct: Math.round(cpuBetween(serverFrom, serverTo) / seconds / 1e4),
        clientCpuPct: Math.round(cpuBetween(clientFrom, clientTo) / seconds / 1e4),
        serverUsPerMessage: Math.round(cpuBetween(serverFrom, serverTo) / Math.max(1, r.acked)),
      };
      step.pass = r.ready === N && step.ackP99 < 50 && step.deliveryP99 < 100 && step.lost === 0 && rows === r.acked && r.acked === r.sent;
      steps.push(step);
      progress(`chat ${rate}/s: ${JSON.stringify(step)}`);
      // Past the latency bar, go on while nothing is lost, to show what the store sustains.
      if (step.lost !== 0 || rows !== r.acked || step.ackP99 > 2000) break;
    }
  },
);
const best = steps.filter((s) => s.pass).at(-1);
table(`S3 chat: ${N} users in groups of ${GROUP}, ${o.processes} replica(s), steps of ${o['step-s']} s`, steps);
process.stdout.write(`\nhighest passing rate: ${best ? `${best.ratePerS} messages/s (${best.persistedPerS} persisted/s)` : 'none'}\n`);
writeResult('chat', {
  parameters: { users: N, groupSize: GROUP, processes: Number(o.processes), stepS: stepMs / 1000 },
  steps,
  best: best ?? null,
});
process.exit(0);
