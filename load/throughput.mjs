// S2 throughput: N sockets, one announcement group; the admin's rate rises step by step until
// p99 > 250 ms or a delivery is missing. Reports the highest deliveries/s that passed.
import { args, connectBenchUsers, list, sample, sleep, until, withSystem } from './lib/run.mjs';
import { connectPoster } from './lib/admin.mjs';
import { cpuBetween, nowMicros, secondsBetween } from './lib/proc.mjs';
import { percentiles, progress, table, writeResult } from './lib/report.mjs';
import { ADMIN, SECRET, seed } from './lib/targets.mjs';

const o = args(
  'throughput',
  {
    sockets: { type: 'string' },
    processes: { type: 'string' },
    systems: { type: 'string' },
    rates: { type: 'string' },
    'step-s': { type: 'string' },
  },
  { sockets: '10000', processes: '2', systems: 'banyan', rates: '5,10,20,40,60,80,120,160', 'step-s': '4' },
);
const N = Number(o.sockets);
const stepS = Number(o['step-s']);
const runId = Date.now().toString(36);
const pad = 'x'.repeat(76);

const summary = [];
const allSteps = {};
for (const system of list(o.systems)) {
  const steps = [];
  await withSystem({ system, processes: Number(o.processes), sockets: N }, async (target, clients) => {
    if (system === 'banyan') await seed({ users: N, announcement: true });
    const connected = await connectBenchUsers(clients, target, N);
    progress(`${system}: ${connected.ready}/${N} ready`);
    const poster = await connectPoster({ flavor: target.flavor, url: target.urls[0], secret: SECRET, user: ADMIN });
    let item = 0;
    for (const rate of list(o.rates).map(Number)) {
      await clients.reset();
      const count = Math.round(rate * stepS);
      const from = sample(target.pids);
      const start = nowMicros() + 10_000;
      for (let i = 0; i < count; i++) {
        const t = Math.round(start + (i * 1e6) / rate);
        const wait = (t - nowMicros()) / 1000;
        if (wait > 1) await sleep(wait);
        poster.post('g-bench-ann', `t${runId}-${item}`, `a|${item++}|${t}|${pad}`);
      }
      const expected = connected.ready * count;
      const delivered = await until(clients, 'delivered', (d) => d >= expected, 10_000);
      const to = sample(target.pids);
      const rep = await clients.report();
      const lat = percentiles(rep.delivery);
      const step = {
        announcementsPerS: rate,
        deliveriesPerS: Math.round(rep.delivered / secondsBetween(from, to)),
        offeredDeliveriesPerS: rate * connected.ready,
        deliveryRatio: rep.delivered / expected,
        p50ms: lat.p50,
        p99ms: lat.p99,
        serverUsPerDelivery: cpuBetween(from, to) / Math.max(1, rep.delivered),
      };
      step.pass = step.p99ms <= 250 && rep.delivered >= expected && delivered >= expected;
      steps.push(step);
      progress(`${system} ${rate}/s: ${JSON.stringify(step)}`);
      if (step.deliveryRatio < 1 || step.p99ms > 2000) break;
      await sleep(500);
    }
    poster.close();
  });
  const best = steps.filter((s) => s.pass).at(-1);
  allSteps[system] = steps;
  table(`S2 throughput ${system}: ${N} sockets, ${o.processes} process(es), ${stepS} s steps`, steps);
  summary.push({
    system,
    bestDeliveriesPerS: best?.deliveriesPerS ?? 0,
    atAnnouncementsPerS: best?.announcementsPerS ?? 0,
    p99ms: best?.p99ms ?? null,
  });
}
table('S2 highest sustained deliveries/s (p99 <= 250 ms, no loss)', summary);
writeResult('throughput', { parameters: { sockets: N, processes: Number(o.processes), stepS }, steps: allSteps, summary });
process.exit(0);
