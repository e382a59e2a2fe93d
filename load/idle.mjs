// S4 idle: N authenticated sockets that do nothing; RSS and heap per socket (after minus
// before connecting, summed over the server processes), and the CPU an idle server burns.
import { args, connectBenchUsers, list, sample, sleep, withSystem } from './lib/run.mjs';
import { cpuBetween, secondsBetween } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { METRICS_TOKEN, seed } from './lib/targets.mjs';

const o = args(
  'idle',
  {
    sockets: { type: 'string' },
    processes: { type: 'string' },
    systems: { type: 'string' },
    'idle-s': { type: 'string' },
    profile: { type: 'string' },
  },
  { sockets: '10000', processes: '2', systems: 'banyan,socketio,ws', 'idle-s': '10' },
);
const N = Number(o.sockets);

/** Heap used by one server process: Banyan's Prometheus metrics, or the peers' /memory. */
async function heapUsed(flavor, port) {
  if (flavor === 'banyan') {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)[1]);
  }
  return (await (await fetch(`http://127.0.0.1:${port}/memory`)).json()).heapUsed;
}
/** Full GC in every server process, then a moment for it to finish. */
async function collect(target) {
  for (const pid of target.pids) process.kill(pid, 'SIGUSR2');
  await sleep(1500);
}
const heapOf = async (target) =>
  (await Promise.all(target.ports.map((p) => heapUsed(target.name.startsWith('banyan') ? 'banyan' : 'peer', p)))).reduce(
    (a, b) => a + b,
    0,
  );

const results = [];
for (const system of list(o.systems)) {
  const processes = Number(o.processes);
  results.push(
    await withSystem(
      { system, processes, sockets: N, targetOptions: o.profile ? { profileDir: o.profile } : {} },
      async (target, clients) => {
        if (system !== 'socketio' && system !== 'ws') await seed({ users: N, announcement: true });
        await collect(target);
        const before = sample(target.pids);
        const heapBefore = await heapOf(target);
        const connected = await connectBenchUsers(clients, target, N);
        progress(`${system}: ${connected.ready}/${N} ready in ${connected.seconds.toFixed(1)} s`);
        await sleep(3000);
        const from = sample(target.pids);
        const clientFrom = sample(clients.pids);
        await sleep(Number(o['idle-s']) * 1000);
        const to = sample(target.pids);
        const clientTo = sample(clients.pids);
        await collect(target);
        const heapAfter = await heapOf(target);
        const rssAfter = sample(target.pids).rss.reduce((a, b) => a + b, 0);
        const rssBefore = before.rss.reduce((a, b) => a + b, 0);
        return {
          system,
          processes,
          sockets: connected.ready,
          handshakesPerS: Math.round(connected.ready / connected.seconds),
          rssMiB: Math.round(rssAfter / 2 ** 20),
          rssPerSocketKB: Math.round((rssAfter - rssBefore) / connected.ready / 102.4) / 10,
          heapPerSocketKB: Math.round((heapAfter - heapBefore) / connected.ready / 102.4) / 10,
          idleServerCpuPct: Math.round((cpuBetween(from, to) / secondsBetween(from, to) / 1e4) * 10) / 10,
          idleClientCpuPct: Math.round((cpuBetween(clientFrom, clientTo) / secondsBetween(clientFrom, clientTo) / 1e4) * 10) / 10,
        };
      },
    ),
  );
}
const banyan = results.find((r) => r.system === 'banyan');
const ratios = banyan
  ? results
      .filter((r) => r !== banyan)
      .map((p) => ({
        peer: p.system,
        'RSS/socket (peer/banyan)': p.rssPerSocketKB / banyan.rssPerSocketKB,
        'heap/socket (peer/banyan)': p.heapPerSocketKB / banyan.heapPerSocketKB,
      }))
  : [];
table(`S4 idle: ${N} sockets`, results);
table('ratios (above 1: Banyan better)', ratios);
writeResult('idle', { parameters: { sockets: N }, results, ratios });
process.exit(0);
