// Presence churn vs announcement latency (issue 14): N member sockets of an announcement group
// stay connected while an admin posts `count` announcements at `rate`/s (open loop, latency from
// the intended send time, as load/announce.mjs). Phase 1 runs alone; phase 2 runs while `churn`
// other users (in ordinary groups of `group-size`, so every change has a presence audience)
// connect and disconnect, `churn-rate` connections a second taking the users in turn: each
// stays `hold-ms` and closes (an open loop: a server slower than the rate falls behind).
// `rounds` pairs of phases alternate, after a warm-up of each kind that is not measured; the
// medians of each kind are compared, and every delivery of each kind pooled. `--burn` adds a busy
// loop per kind of phase, to run the ws floor on a machine as loaded as Banyan's.
// A virtual machine's hypervisor may give its CPUs to another machine while they have work
// (stolen time, /proc/stat): latency then measures the neighbour. A round in which either phase
// had more than `--max-steal` stolen (200 = both cores) does not count and another is run, up to
// `--max-rounds`; the rises are computed over the rounds that count and, for comparison, over all.
// Both phases on the same replicas, side by side. Bounded: `--timeout-s` (default 600; a round
// takes about 25 s).
import postgres from 'postgres';
import { connectPoster } from './lib/admin.mjs';
import { cpus } from 'node:os';
import {
  commandPctBetween,
  cpuBetween,
  forkWorker,
  machineBusyPct,
  machineStealPct,
  machineTicks,
  ticksByCommand,
  nowMicros,
  secondsBetween,
  stopProcess,
} from './lib/proc.mjs';
import { newHistogram, percentiles, progress, table, writeResult } from './lib/report.mjs';
import { args, connectBenchUsers, sample, sleep, until, withSystem } from './lib/run.mjs';
import { ADMIN, DATABASE_URL, METRICS_TOKEN, SECRET, seed, vacuumAnalyze } from './lib/targets.mjs';

/**
 * Each server's event-loop lag (prom-client's monitor, reset at every scrape: the numbers cover
 * the time since the previous one) and its GC time so far: where a latency tail comes from.
 */
async function loopStats(urls) {
  const stats = await Promise.all(
    urls.map(async (url) => {
      const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const value = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      const gcSeconds = [...text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
      return {
        lagP99: value('nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMax: value('nodejs_eventloop_lag_max_seconds') * 1000,
        gcMs: gcSeconds * 1000,
      };
    }),
  );
  return stats;
}

const o = args(
  'presence',
  {
    sockets: { type: 'string' },
    churn: { type: 'string' },
    processes: { type: 'string' },
    count: { type: 'string' },
    rate: { type: 'string' },
    'group-size': { type: 'string' },
    'hold-ms': { type: 'string' },
    'churn-rate': { type: 'string' },
    presence: { type: 'string' },
    rounds: { type: 'string' },
    'churn-client': { type: 'string' },
    system: { type: 'string' },
    'warmup-s': { type: 'string' },
    burn: { type: 'string' },
    'max-steal': { type: 'string' },
    'max-rounds': { type: 'string' },
  },
  {
    sockets: '2000',
    churn: '10000',
    processes: '2',
    count: '100',
    rate: '10',
    'group-size': '8',
    'hold-ms': '1000',
    'churn-rate': '200',
    presence: 'on',
    'churn-client': 'raw',
    // banyan-before: an older build side by side (BENCH_BEFORE_ROOT), with the same load. ws: the
    // minimal broadcast floor (load/peers/ws-server.mjs: no storage, no presence), for what the
    // churn's connections alone cost on this machine.
    system: 'banyan',
    'warmup-s': '5',
    // `quiet,churn`: fractions of one core a busy loop takes in each kind of phase (none between
    // them), to run the floor on a machine as loaded as Banyan's. 0,0: no busy loop.
    burn: '0,0',
    // 20 of 200: a tenth of the machine's time. Any value of 200 or more counts every round.
    'max-steal': '20',
    'max-rounds': '20',
    'timeout-s': '600',
  },
);
const N = Number(o.sockets);
const churn = Number(o.churn);
const count = Number(o.count);
const rate = Number(o.rate);
const groupSize = Number(o['group-size']);
const holdMs = Number(o['hold-ms']);
/** Connections a second, each by the next churn user in turn (so `churn` users cycle through). */
const churnRate = Number(o['churn-rate']);
/**
 * `off`: the control run. PRESENCE_MAX_MEMBERS below the churners' group size, so the same
 * connections come and go but no change has an audience: what churn costs without presence frames.
 */
const presenceOn = o.presence !== 'off';
const rounds = Number(o.rounds);
const maxSteal = Number(o['max-steal']);
const maxRounds = Math.max(rounds, Number(o['max-rounds']));
const [burnQuiet, burnChurn] = o.burn.split(',').map(Number);
if (![burnQuiet, burnChurn].every((d) => d >= 0 && d <= 1)) throw new Error('--burn takes two fractions of a core: quiet,churn');
const CHURN_PREFIX = 'bc';
/** The storage processes whose CPU each phase reports (all of PostgreSQL's, Redis). */
const STORAGE_COMMANDS = ['postgres', 'redis-server'];
const runId = Date.now().toString(36);

/** Churn users bc0…, in ordinary groups of `groupSize` (ids g-bench-p…, dropped by the next seed). */
async function seedChurners() {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into users (id, name) select ${CHURN_PREFIX} || i, ${CHURN_PREFIX} || i from generate_series(0, ${churn - 1}::int) i on conflict do nothing`;
    const groups = Math.ceil(churn / groupSize);
    await sql`insert into groups (id, kind, name, created_by, member_count)
      select 'g-bench-p' || g, 'group', 'Bench presence ' || g, ${CHURN_PREFIX} || (g * ${groupSize}),
             least(${groupSize}, ${churn} - g * ${groupSize})
      from generate_series(0, ${groups - 1}::int) g`;
    await sql`insert into members (group_id, user_id, role)
      select 'g-bench-p' || (i / ${groupSize}), ${CHURN_PREFIX} || i, case when i % ${groupSize} = 0 then 'owner' else 'member' end
      from generate_series(0, ${churn - 1}::int) i`;
    await vacuumAnalyze(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const targetOptions = presenceOn ? {} : { env: { PRESENCE_MAX_MEMBERS: String(Math.max(2, groupSize - 1)) } };
const result = await withSystem(
  { system: o.system, processes: Number(o.processes), sockets: N, targetOptions },
  async (target, clients) => {
    await seed({ users: N, announcement: true });
    await seedChurners();
    const connected = await connectBenchUsers(clients, target, N);
    progress(`${connected.ready}/${N} receivers ready in ${connected.seconds.toFixed(1)} s (${connected.failed} failed)`);
    const poster = await connectPoster({ flavor: target.flavor, url: target.urls[0], secret: SECRET, user: ADMIN });
    await sleep(1000);

    let phaseIndex = 0;
    // Every delivery of each kind of phase, all rounds together: a p99 from thousands of
    // announcements' receivers rather than the median of a few rounds' p99s (each set by about
    // one announcement's slowest receivers, so it swung by tens of percent between runs).
    const pooled = { 'no churn': newHistogram(), churn: newHistogram() };
    const pooledAll = { 'no churn': newHistogram(), churn: newHistogram() };
    const phase = async (label) => {
      await clients.reset();
      poster.acks.latencyMs.length = 0;
      const expected = connected.ready * count;
      const from = sample(target.pids);
      // The load generators share the two cores: their CPU during the phase is reported beside the servers'.
      const generators = [...clients.pids, churner.pid];
      const generatorsFrom = sample(generators);
      const machineFrom = machineTicks();
      const storageFrom = ticksByCommand(STORAGE_COMMANDS);
      const loopsFrom = await loopStats(target.urls.map((u) => u.replace(/^ws/, 'http')));
      burner?.send({ duty: label === 'churn' ? burnChurn : burnQuiet });
      const start = nowMicros() + 10_000;
      progress(`phase ${label} from monotonic ${(start / 1e6).toFixed(3)} s`);
      const interval = 1e6 / rate;
      for (let i = 0; i < count; i++) {
        const t = Math.round(start + i * interval);
        const wait = (t - nowMicros()) / 1000;
        if (wait > 1) await sleep(wait);
        poster.post('g-bench-ann', `p${runId}-${phaseIndex}-${i}`, `a|${i}|${t}|presence`, t);
      }
      const delivered = await until(clients, 'delivered', (d) => d >= expected, 20_000);
      progress(`phase ${label} to monotonic ${(nowMicros() / 1e6).toFixed(3)} s`);
      burner?.send({ duty: 0 });
      const to = sample(target.pids);
      const generatorsTo = sample(generators);
      const machineTo = machineTicks();
      const storage = commandPctBetween(storageFrom, ticksByCommand(STORAGE_COMMANDS));
      const loopsTo = await loopStats(target.urls.map((u) => u.replace(/^ws/, 'http')));
      const rep = await clients.report();
      const lat = percentiles(rep.delivery);
      const ack = arrayPercentiles(poster.acks.latencyMs);
      // Per announcement: its first receiver (commit, bus and the first send) and the spread to
      // its last (the fan-out): which of the two a latency tail comes from.
      const firsts = [...rep.firstByItem.values()].map((us) => us / 1000);
      const spreads = [...rep.firstByItem].map(([id, f]) => (rep.lastByItem.get(id) - f) / 1000);
      const first = arrayPercentiles(firsts);
      const spread = arrayPercentiles(spreads);
      phaseIndex++;
      return {
        delivery: rep.delivery,
        phase: label,
        deliveries: delivered,
        deliveryRatio: delivered / expected,
        p50ms: lat.p50,
        p99ms: lat.p99,
        maxMs: lat.max,
        ackP50ms: ack.p50,
        ackP99ms: ack.p99,
        firstP50ms: first.p50,
        firstP99ms: first.p99,
        spreadP50ms: spread.p50,
        spreadP99ms: spread.p99,
        serverCpuPct: Math.round((cpuBetween(from, to) / 1e4 / secondsBetween(from, to)) * 10) / 10,
        // The servers' worst event-loop lag and GC time during the phase.
        loopLagP99Ms: Math.round(Math.max(...loopsTo.map((l) => l.lagP99)) * 10) / 10,
        loopLagMaxMs: Math.round(Math.max(...loopsTo.map((l) => l.lagMax)) * 10) / 10,
        gcMs: Math.round(loopsTo.reduce((s, l, i) => s + l.gcMs - loopsFrom[i].gcMs, 0)),
        // Everything on the machine (PostgreSQL and Redis are the rest), in the same unit.
        machineCpuPct: machineBusyPct(machineFrom, machineTo, cpus().length),
        // The hypervisor's: time this machine's CPUs had work but were given to another machine.
        stealPct: machineStealPct(machineFrom, machineTo, cpus().length),
        postgresCpuPct: storage.postgres,
        redisCpuPct: storage['redis-server'],
        loadGeneratorCpuPct:
          Math.round((cpuBetween(generatorsFrom, generatorsTo) / 1e4 / secondsBetween(generatorsFrom, generatorsTo)) * 10) / 10,
      };
    };

    // Alternating rounds on the same replicas, so a machine whose load drifts weighs on both kinds alike.
    const churner = forkWorker('churn', new URL('./lib/churn-worker.mjs', import.meta.url).pathname);
    const burner = burnQuiet + burnChurn > 0 ? forkWorker('burn', new URL('./lib/burn-worker.mjs', import.meta.url).pathname) : undefined;
    const message = (ev) => new Promise((resolve) => churner.once('message', (m) => m.ev === ev && resolve(m)));
    const minted = message('minted');
    churner.send({
      cmd: 'prepare',
      options: {
        urls: target.urls,
        secret: SECRET,
        prefix: CHURN_PREFIX,
        total: churn,
        ratePerS: churnRate,
        holdMs,
        client: o['churn-client'],
        flavor: target.flavor,
      },
    });
    await minted;
    // Warm-up, not measured: the churn's code paths compiled and its connections to storage open,
    // as on a server that has been up for a while (the first churn phase was otherwise the slowest).
    churner.send({ cmd: 'go' });
    await sleep(Number(o['warmup-s']) * 1000);
    churner.send({ cmd: 'pause' });
    await sleep(holdMs + 1000);
    // A quiet phase not measured either: the first quiet phase was the slowest quiet phase of every
    // run, Banyan's and the floor's alike (p99 up to 2–3 times the others'), and it alone raised the
    // pooled quiet p99 (so lowered the pooled rise).
    await phase('warm-up');
    const phases = [];
    let counted = 0;
    for (let round = 0; counted < rounds && round < maxRounds; round++) {
      const { delivery: quietDelivery, ...quiet } = await phase('no churn');
      churner.send({ cmd: 'go' });
      await sleep(holdMs + 1000); // steady state: as many closing as connecting
      const before = message('stats');
      churner.send({ cmd: 'stats' });
      const from = (await before).stats;
      const { delivery: churnDelivery, ...measured } = await phase('churn');
      const after = message('stats');
      churner.send({ cmd: 'stats' });
      const to = (await after).stats;
      churner.send({ cmd: 'pause' });
      const counts = quiet.stealPct <= maxSteal && measured.stealPct <= maxSteal;
      if (counts) counted++;
      for (const [label, delivery] of [
        ['no churn', quietDelivery],
        ['churn', churnDelivery],
      ]) {
        pooledAll[label].add(delivery);
        if (counts) pooled[label].add(delivery);
      }
      progress(
        `round ${round}: steal ${quiet.stealPct} / ${measured.stealPct}: ${counts ? 'counts' : 'stolen, not counted'} (${counted} of ${rounds})`,
      );
      phases.push({ round, counts, ...quiet });
      phases.push({
        round,
        counts,
        ...measured,
        churnConnects: to.started - from.started,
        churnReady: to.ready - from.ready,
        churnClosed: to.closed - from.closed,
        churnFailed: to.failed - from.failed,
        presenceFrames: to.presenceFrames - from.presenceFrames,
      });
      await sleep(holdMs + 1000); // the last churn sockets close before the next quiet phase
    }
    await stopProcess(churner);
    if (burner) await stopProcess(burner);
    poster.close();
    return {
      receivers: connected.ready,
      phases,
      pooled: { quiet: percentiles(pooled['no churn']), churn: percentiles(pooled.churn) },
      pooledAll: { quiet: percentiles(pooledAll['no churn']), churn: percentiles(pooledAll.churn) },
    };
  },
);

/** p50 and p99 of a short list of milliseconds (the poster's acks). */
function arrayPercentiles(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99) };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};
table(
  `presence ${presenceOn ? 'on' : 'off (control)'}: ${result.receivers} receivers, ${count} announcements at ${rate}/s per phase; churn ${churn} users at ${churnRate} connections/s, hold ${holdMs} ms`,
  result.phases,
);
const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : 'n/a');
/** Medians over the rounds `which` keeps, and the rises. */
function mediansOf(which) {
  const of = (kind, key) => median(result.phases.filter((p) => p.phase === kind && which(p)).map((p) => p[key]));
  const summary = {
    n: result.phases.filter((p) => p.phase === 'churn' && which(p)).length,
    quietP50: of('no churn', 'p50ms'),
    churnP50: of('churn', 'p50ms'),
    quietP99: of('no churn', 'p99ms'),
    churnP99: of('churn', 'p99ms'),
    quietAckP50: of('no churn', 'ackP50ms'),
    churnAckP50: of('churn', 'ackP50ms'),
  };
  return { summary, p50Rise: summary.churnP50 / summary.quietP50 - 1, p99Rise: summary.churnP99 / summary.quietP99 - 1 };
}
const pooledRisesOf = (p) => ({ p50Rise: p.churn.p50 / p.quiet.p50 - 1, p99Rise: p.churn.p99 / p.quiet.p99 - 1 });
const counted = mediansOf((p) => p.counts);
const all = mediansOf(() => true);
const pooledRises = pooledRisesOf(result.pooled);
const pooledAllRises = pooledRisesOf(result.pooledAll);
table(`medians over rounds, and the rise with churn (target ≤ 20 %); counted: steal ≤ ${maxSteal} in both phases`, [
  { rounds: 'counted', ...counted.summary, p50Rise: pct(counted.p50Rise), p99Rise: pct(counted.p99Rise) },
  { rounds: 'all', ...all.summary, p50Rise: pct(all.p50Rise), p99Rise: pct(all.p99Rise) },
]);
table(
  'every delivery pooled by kind of phase, and the rise (target ≤ 20 %)',
  [
    ['counted', result.pooled, pooledRises],
    ['all', result.pooledAll, pooledAllRises],
  ].map(([rounds, p, rises]) => ({
    rounds,
    quietP50: p.quiet.p50,
    churnP50: p.churn.p50,
    quietP99: p.quiet.p99,
    churnP99: p.churn.p99,
    p50Rise: pct(rises.p50Rise),
    p99Rise: pct(rises.p99Rise),
  })),
);
writeResult('presence', {
  parameters: {
    sockets: N,
    churn,
    churnRate,
    count,
    rate,
    groupSize,
    holdMs,
    rounds,
    presence: presenceOn,
    churnClient: o['churn-client'],
    system: o.system,
    warmupS: Number(o['warmup-s']),
    processes: Number(o.processes),
    burn: { quiet: burnQuiet, churn: burnChurn },
    maxSteal,
    maxRounds,
  },
  ...result,
  summary: counted.summary,
  p50Rise: counted.p50Rise,
  p99Rise: counted.p99Rise,
  pooledRises,
  all: { ...all, pooledRises: pooledAllRises },
});
process.exit(0);
