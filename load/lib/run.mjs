// What every scenario shares: arguments, the systems to compare, and the per-system lifecycle.
import { parseArgs } from 'node:util';
import { Clients, workersFor } from './clients.mjs';
import { hardTimeout, sample, sleep } from './proc.mjs';
import { progress } from './report.mjs';
import { SECRET, USER_PREFIX, startTarget } from './targets.mjs';

export function args(name, options, defaults) {
  const { values } = parseArgs({ options: { ...options, 'timeout-s': { type: 'string' } }, allowPositionals: true });
  const o = { ...defaults, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v])) };
  hardTimeout(Number(o['timeout-s'] ?? 175) * 1000, name);
  return o;
}

export const list = (s) =>
  String(s)
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Starts a system with `processes` processes, forks clients, runs `body`, always cleans up. */
export async function withSystem({ system, processes, sockets, clientWorkers, targetOptions }, body) {
  progress(`== ${system}: ${processes} process(es), ${sockets} sockets`);
  const target = await startTarget(system, processes, targetOptions);
  const clients = new Clients(clientWorkers ?? workersFor(sockets));
  try {
    return await body(target, clients);
  } finally {
    await clients.close().catch(() => undefined);
    await target.stop();
  }
}

/** Polls the workers' progress until `done(sum)` or the time is up. */
export async function until(clients, key, done, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const total = clients.workers.reduce((s, w) => s + (w.latest[key] ?? 0), 0);
    if (done(total) || Date.now() > deadline) return total;
    await sleep(50);
  }
}

export { sample, sleep };

/** Connects `total` bench users (`bu0`…) to the target, 200 handshakes at a time; `extra` adds worker options. */
export const connectBenchUsers = (clients, target, total, extra = {}) =>
  clients.connect({ flavor: target.flavor, urls: target.urls, total, prefix: USER_PREFIX, secret: SECRET, concurrency: 200, ...extra });
