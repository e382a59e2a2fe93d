// S1 announce: N authenticated member sockets over R processes; an admin posts `count`
// announcements on a fixed schedule (open loop); per-receiver latency from the intended send
// time carried in the text (CLOCK_MONOTONIC, shared by all processes of the machine).
import { args, connectBenchUsers, list, sample, sleep, until, withSystem } from './lib/run.mjs';
import { connectPoster } from './lib/admin.mjs';
import { cpuBetween, secondsBetween, nowMicros } from './lib/proc.mjs';
import { percentiles, progress, table, writeResult } from './lib/report.mjs';
import { ADMIN, SECRET, seed } from './lib/targets.mjs';

const o = args(
  'announce',
  {
    sockets: { type: 'string' },
    processes: { type: 'string' },
    systems: { type: 'string' },
    count: { type: 'string' },
    rate: { type: 'string' },
    'text-bytes': { type: 'string' },
    workers: { type: 'string' },
    profile: { type: 'string' },
  },
  { sockets: '10000', processes: '2', systems: 'banyan,socketio,ws', count: '100', rate: '10', 'text-bytes': '100' },
);
const N = Number(o.sockets);
const count = Number(o.count);
const rate = Number(o.rate);
const pad = 'x'.repeat(Math.max(0, Number(o['text-bytes']) - 24));
const runId = Date.now().toString(36);

const results = [];
for (const system of list(o.systems)) {
  const processes = Number(o.processes);
  const r = await withSystem(
    {
      system,
      processes,
      sockets: N,
      clientWorkers: o.workers ? Number(o.workers) : undefined,
      targetOptions: o.profile ? { profileDir: o.profile } : {},
    },
    async (target, clients) => {
      if (system.startsWith('banyan')) await seed({ users: N, announcement: true });
      const connected = await connectBenchUsers(clients, target, N);
      progress(`${system}: ${connected.ready}/${N} ready in ${connected.seconds.toFixed(1)} s (${connected.failed} failed)`);
      const poster = await connectPoster({ flavor: target.flavor, url: target.urls[0], secret: SECRET, user: ADMIN });
      await sleep(1000);
      await clients.reset();
      const idleFrom = sample(target.pids);
      await sleep(1000);
      const idleTo = sample(target.pids);
      const expected = connected.ready * count;
      const serverFrom = sample(target.pids);
      const clientFrom = sample(clients.pids);
      clients.showProgress(`${system} announce`);
      const start = nowMicros() + 10_000;
      const interval = 1e6 / rate;
      for (let i = 0; i < count; i++) {
        const t = Math.round(start + i * interval);
        const wait = (t - nowMicros()) / 1000;
        if (wait > 1) await sleep(wait);
        poster.post('g-bench-ann', `a${runId}-${i}`, `a|${i}|${t}|${pad}`);
      }
      await until(clients, 'delivered', (d) => d >= expected, 15_000);
      const serverTo = sample(target.pids);
      const clientTo = sample(clients.pids);
      clients.stopProgress();
      const rep = await clients.report();
      poster.close();
      const seconds = secondsBetween(serverFrom, serverTo);
      const serverCpu = cpuBetween(serverFrom, serverTo);
      const idleCpuPerS = cpuBetween(idleFrom, idleTo) / secondsBetween(idleFrom, idleTo);
      const lasts = [...rep.lastByItem.values()].sort((a, b) => a - b);
      const lat = percentiles(rep.delivery);
      return {
        system,
        processes,
        sockets: connected.ready,
        connectS: connected.seconds,
        handshakesPerS: Math.round(connected.ready / connected.seconds),
        announcements: count,
        ratePerS: rate,
        acks: poster.acks.count,
        deliveries: rep.delivered,
        deliveryRatio: rep.delivered / (N * count),
        p50ms: lat.p50,
        p99ms: lat.p99,
        p999ms: lat.p999,
        maxMs: lat.max,
        lastReceiverP50ms: lasts.length ? Math.round(lasts[Math.floor(lasts.length / 2)] / 100) / 10 : null,
        lastReceiverMaxMs: lasts.length ? Math.round(lasts[lasts.length - 1] / 100) / 10 : null,
        windowS: seconds,
        deliveriesPerS: Math.round(rep.delivered / seconds),
        serverCpuS: serverCpu / 1e6,
        serverUsPerDelivery: serverCpu / rep.delivered,
        serverIdleCpuPct: idleCpuPerS / 1e4,
        clientUsPerDelivery: cpuBetween(clientFrom, clientTo) / rep.delivered,
        serverRssMiB: Math.round(serverTo.rss.reduce((a, b) => a + b, 0) / 2 ** 20),
      };
    },
  );
  results.push(r);
}

const banyan = results.find((r) => r.system === 'banyan');
const ratios = banyan
  ? results
      .filter((r) => r !== banyan)
      .map((p) => ({
        peer: p.system,
        'p99 (peer/banyan)': p.p99ms / banyan.p99ms,
        'server µs/delivery (peer/banyan)': p.serverUsPerDelivery / banyan.serverUsPerDelivery,
        'deliveries/s (banyan/peer)': banyan.deliveriesPerS / p.deliveriesPerS,
      }))
  : [];
const COLUMNS = ['system', 'processes', 'sockets', 'deliveryRatio', 'p50ms', 'p99ms', 'p999ms', 'lastReceiverMaxMs', 'deliveriesPerS'];
const CPU_COLUMNS = ['serverUsPerDelivery', 'clientUsPerDelivery', 'serverIdleCpuPct', 'handshakesPerS'];
table(
  `S1 announce: ${N} sockets, ${count} announcements at ${rate}/s`,
  results.map((r) => Object.fromEntries([...COLUMNS, ...CPU_COLUMNS].map((k) => [k, r[k]]))),
);
table('ratios (above 1: Banyan better)', ratios);
writeResult('announce', { parameters: { sockets: N, count, rate, textBytes: Number(o['text-bytes']) }, results, ratios });
process.exit(0);
