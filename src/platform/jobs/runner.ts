import type { Logger } from '../obs/logger.js';
import { type Clock, systemClock, type Timer } from '../clock.js';
import type { Job, JobNext } from './job.js';

/** What the runner records of each job (obs/metrics.ts's job block). */
/** The runner's time: the clock its timers run on, and jitter's randomness (tests fix both). */
interface JobTime {
  clock: Clock;
  /** In [0, 1). */
  random(): number;
}

export interface JobMetrics {
  jobRuns: { inc(labels: { job: string }): void };
  jobFailures: { inc(labels: { job: string }): void };
  jobDuration: { observe(labels: { job: string }, seconds: number): void };
}

/** One registered job and its schedule. */
class Scheduled {
  private timer: Timer | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  /** The soonest a kick during a run asked for the next (undefined: no kick). */
  private kickedMs: number | undefined;
  /** A gathering wait is under way: kicks do not bring it forward. */
  private gathering = false;
  private stopped = true;

  constructor(
    readonly job: Job,
    private readonly time: JobTime,
    private readonly logger: Logger,
    private readonly metrics: JobMetrics | undefined,
  ) {}

  start(): void {
    this.stopped = false;
    this.job.trigger?.bind((afterMs) => this.kick(afterMs));
    if (this.job.kind === 'queued') this.schedule(0);
    else this.schedule(this.usualWaitMs());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.job.trigger?.bind(undefined);
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
    try {
      await this.job.stop?.();
    } catch (err) {
      this.logger.warn(`job ${this.job.name} did not stop cleanly`, { err });
    }
  }

  /** During a run or a gathering wait, remembered for the wait after the run (never lost, never a second run at once). */
  private kick(afterMs: number): void {
    if (this.stopped) return;
    if (this.running || this.gathering) this.kickedMs = Math.min(this.kickedMs ?? afterMs, afterMs);
    else this.schedule(afterMs);
  }

  /** Runs within `ms` (an earlier run already due stays). */
  private schedule(ms: number, gather = false): void {
    if (this.stopped) return;
    const at = this.time.clock.now() + ms;
    if (this.timer !== undefined && this.dueAt <= at && !gather) return;
    this.timer?.cancel();
    this.dueAt = at;
    this.gathering = gather;
    // Background work never keeps a process alive: stop() ends it when the server stops.
    this.timer = this.time.clock.setTimeout(() => this.fire(), ms).unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    this.gathering = false;
    if (this.stopped || this.running) return;
    this.running = this.runOnce().then((next) => {
      this.running = undefined;
      const kickedMs = this.kickedMs;
      this.kickedMs = undefined;
      if (next?.gather) this.schedule(next.inMs, true);
      else if (next) this.schedule(Math.min(next.inMs, kickedMs ?? next.inMs));
      else if (kickedMs !== undefined) this.schedule(kickedMs);
      else if (this.job.kind === 'periodic' || this.job.everyMs !== undefined) this.schedule(this.usualWaitMs());
    });
  }

  /** One run, timed and counted; a failure is logged and the job waits its usual interval. */
  private async runOnce(): Promise<JobNext | undefined> {
    const { job, metrics } = this;
    const { clock } = this.time;
    const labels = { job: job.name };
    const started = clock.now();
    try {
      let result: unknown;
      if (job.lease) {
        const leased = await job.lease.hold(job.name, () => job.run());
        if (!leased.held) return undefined;
        result = leased.value;
      } else result = await job.run();
      metrics?.jobRuns.inc(labels);
      return typeof result === 'object' && result !== null ? (result as JobNext) : undefined;
    } catch (err) {
      metrics?.jobRuns.inc(labels);
      metrics?.jobFailures.inc(labels);
      this.logger.warn(`job ${job.name} failed; it runs again later`, { err });
      return undefined;
    } finally {
      metrics?.jobDuration.observe(labels, (clock.now() - started) / 1000);
    }
  }

  private usualWaitMs(): number {
    const every = this.job.everyMs ?? 0;
    return every + Math.floor((this.job.jitterMs ?? 0) * this.time.random());
  }
}

/**
 * Runs the server's background jobs: starts them in registration order, stops them in reverse
 * (each waits for its run in progress, then its own stop), never runs one job twice at once, and
 * logs and counts a failed run and keeps going.
 */
export class JobRunner {
  private readonly jobs: Scheduled[] = [];
  private started = false;

  constructor(private readonly deps: { logger: Logger; metrics?: JobMetrics; clock?: Clock; random?: () => number }) {}

  /** Registers jobs (before start): they start in this order and stop in the reverse. */
  add(...jobs: Job[]): this {
    if (this.started) throw new Error('jobs are registered before the runner starts');
    for (const job of jobs) {
      if (this.jobs.some((s) => s.job.name === job.name)) throw new Error(`job ${job.name} registered twice`);
      this.jobs.push(
        new Scheduled(
          job,
          { clock: this.deps.clock ?? systemClock, random: this.deps.random ?? Math.random },
          this.deps.logger,
          this.deps.metrics,
        ),
      );
    }
    return this;
  }

  get names(): string[] {
    return this.jobs.map((s) => s.job.name);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const scheduled of this.jobs) scheduled.start();
  }

  /** Last registered first: a job may rely on those registered before it until it has stopped. */
  async stop(): Promise<void> {
    for (const scheduled of [...this.jobs].reverse()) await scheduled.stop();
  }
}
