// The parent's side of the load clients: W worker processes sharing N sockets, commands over IPC,
// progress lines while they work, merged results at the end.
import { forkWorker, stopProcess } from './proc.mjs';
import { mergeHistograms, progress } from './report.mjs';

const WORKER = new URL('./client-worker.mjs', import.meta.url).pathname;
/** Below the 20,000 open-files hard limit of this machine, with room for the rest. */
export const MAX_SOCKETS_PER_PROCESS = 19_000;

export class Clients {
  constructor(count) {
    this.workers = Array.from({ length: count }, (_, i) => {
      const child = forkWorker(`client${i}`, WORKER, [String(i)]);
      child.latest = { ready: 0, delivered: 0, acked: 0, failed: 0 };
      child.on('message', (m) => {
        if (m.ev === 'progress') child.latest = m;
        else if (m.ev === 'error') process.stderr.write(`[client${i}] ${m.message}\n`);
        else child.waiter?.(m);
      });
      return child;
    });
    this.ticker = undefined;
  }

  get pids() {
    return this.workers.map((w) => w.pid);
  }

  /** Sends a command to each worker (fields from perWorker(i)) and waits for every answer. */
  all(perWorker) {
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise((resolve) => {
            w.waiter = (m) => {
              w.waiter = undefined;
              resolve(m);
            };
            w.send(perWorker(i));
          }),
      ),
    );
  }

  /** Prints one aggregated progress line per second until stopped. */
  showProgress(label) {
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      const sum = (k) => this.workers.reduce((s, w) => s + (w.latest[k] ?? 0), 0);
      progress(`${label}: ready ${sum('ready')} failed ${sum('failed')} delivered ${sum('delivered')} acked ${sum('acked')}`);
    }, 1000);
    this.ticker.unref();
  }

  stopProgress() {
    clearInterval(this.ticker);
  }

  /** Opens `total` sockets spread over the workers; users `${prefix}${first..first+total-1}`. */
  async connect(o) {
    const per = Math.ceil(o.total / this.workers.length);
    this.showProgress(`connect ${o.flavor}`);
    const results = await this.all((i) => ({
      cmd: 'connect',
      flavor: o.flavor,
      urls: o.urls,
      first: (o.first ?? 0) + i * per,
      count: Math.max(0, Math.min(per, o.total - i * per)),
      prefix: o.prefix,
      secret: o.secret,
      concurrency: o.concurrency ?? 100,
      chatGroups: o.chatGroups ?? false,
      reconnect: o.reconnect ?? false,
    }));
    this.stopProgress();
    return {
      ready: results.reduce((s, r) => s + r.ready, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      seconds: Math.max(...results.map((r) => r.seconds)),
    };
  }

  reset() {
    return this.all(() => ({ cmd: 'reset' }));
  }

  /** Merged report: counters summed, histograms merged, per-item latest receipt maxed. */
  async report() {
    const reports = await this.all(() => ({ cmd: 'report' }));
    const sum = (k) => reports.reduce((s, r) => s + r[k], 0);
    const lastByItem = new Map();
    for (const r of reports) for (const [id, l] of r.lastByItem) lastByItem.set(id, Math.max(lastByItem.get(id) ?? 0, l));
    const firstByItem = new Map();
    for (const r of reports) for (const [id, f] of r.firstByItem) firstByItem.set(id, Math.min(firstByItem.get(id) ?? Infinity, f));
    return {
      ready: sum('ready'),
      failed: sum('failed'),
      delivered: sum('delivered'),
      sent: sum('sent'),
      acked: sum('acked'),
      unacked: sum('unacked'),
      errors: sum('errors'),
      closed: sum('closed'),
      cpuMicros: sum('cpuMicros'),
      rss: sum('rss'),
      delivery: mergeHistograms(reports.map((r) => r.delivery)),
      ack: mergeHistograms(reports.map((r) => r.ack)),
      lastByItem,
      firstByItem,
    };
  }

  async close() {
    this.stopProgress();
    await this.all(() => ({ cmd: 'close' }));
    await Promise.all(this.workers.map((w) => stopProcess(w, 'SIGTERM', 2000)));
  }
}

export const workersFor = (sockets) => Math.max(2, Math.ceil(sockets / MAX_SOCKETS_PER_PROCESS));
