import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { type Job, type JobLease, JobTrigger } from '../../src/platform/jobs/job.js';
import { JobRunner } from '../../src/platform/jobs/runner.js';
import { createLogger } from '../../src/platform/obs/logger.js';
import { createMetrics } from '../../src/platform/obs/metrics.js';

/** A promise the test resolves. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const logger = createLogger('silent');

function runnerWith(clock: ManualClock) {
  const metrics = createMetrics();
  const runner = new JobRunner({ logger, metrics, clock, random: () => 0.5 });
  const count = async (name: 'banyan_job_runs_total' | 'banyan_job_failures_total', job: string) => {
    const metric = await metrics.registry.getSingleMetric(name)!.get();
    return metric.values.find((v) => v.labels.job === job)?.value ?? 0;
  };
  return { runner, count };
}

describe('JobRunner', () => {
  it('starts jobs in registration order and stops them in reverse, each after its own stop', async () => {
    const timers = new ManualClock(0);
    const { runner } = runnerWith(timers);
    const log: string[] = [];
    const job = (name: string): Job => ({
      name,
      kind: 'queued',
      run: async () => {
        log.push(`run ${name}`);
      },
      stop: () => {
        log.push(`stop ${name}`);
      },
    });
    runner.add(job('a'), job('b'), job('c'));
    expect(runner.names).toEqual(['a', 'b', 'c']);
    runner.start();
    await timers.advanceAsync(0);
    expect(log).toEqual(['run a', 'run b', 'run c']);
    await runner.stop();
    expect(log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('a periodic job first runs one interval after start, then every interval plus its jitter', async () => {
    const timers = new ManualClock(0);
    const { runner } = runnerWith(timers);
    const runs: number[] = [];
    runner.add({ name: 'p', kind: 'periodic', everyMs: 1000, jitterMs: 200, run: async () => void runs.push(timers.now()) });
    runner.start();
    await timers.advanceAsync(3500);
    // random() is 0.5: each wait is 1000 + 100.
    expect(runs).toEqual([1100, 2200, 3300]);
    await runner.stop();
  });

  it('never runs a job twice at once: kicks during a run bring one run after it', async () => {
    const timers = new ManualClock(0);
    const { runner } = runnerWith(timers);
    const trigger = new JobTrigger();
    let running = 0;
    let mostAtOnce = 0;
    const gates = [gate(), gate()];
    let runs = 0;
    runner.add({
      name: 'q',
      kind: 'queued',
      trigger,
      run: async () => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await gates[runs++]?.opened;
        running--;
      },
    });
    runner.start();
    await timers.advanceAsync(0);
    expect(runs).toBe(1);
    for (let i = 0; i < 5; i++) trigger.kick();
    await timers.advanceAsync(10);
    expect(runs).toBe(1);
    gates[0]!.open();
    await timers.advanceAsync(0);
    expect(runs).toBe(2);
    gates[1]!.open();
    await timers.advanceAsync(0);
    // The five kicks came during one run: one run after it, not five.
    expect(runs).toBe(2);
    expect(mostAtOnce).toBe(1);
    trigger.kick(50);
    await timers.advanceAsync(49);
    expect(runs).toBe(2);
    await timers.advanceAsync(1);
    expect(runs).toBe(3);
    await runner.stop();
  });

  it('counts and logs a failed run, and the job runs again at its next time', async () => {
    const timers = new ManualClock(0);
    const { runner, count } = runnerWith(timers);
    let runs = 0;
    runner.add({
      name: 'flaky',
      kind: 'periodic',
      everyMs: 1000,
      run: async () => {
        runs++;
        if (runs === 1) throw new Error('storage went away');
      },
    });
    runner.start();
    await timers.advanceAsync(1000);
    expect(runs).toBe(1);
    expect(await count('banyan_job_failures_total', 'flaky')).toBe(1);
    await timers.advanceAsync(1000);
    expect(runs).toBe(2);
    expect(await count('banyan_job_runs_total', 'flaky')).toBe(2);
    expect(await count('banyan_job_failures_total', 'flaky')).toBe(1);
    await runner.stop();
  });

  it('stop waits for the run in progress, then the job stops, and nothing runs after', async () => {
    const timers = new ManualClock(0);
    const { runner } = runnerWith(timers);
    const log: string[] = [];
    const blocked = gate();
    const trigger = new JobTrigger();
    runner.add({
      name: 'slow',
      kind: 'queued',
      everyMs: 100,
      trigger,
      run: async () => {
        log.push('run started');
        await blocked.opened;
        log.push('run ended');
      },
      stop: () => {
        log.push('stopped');
      },
    });
    runner.start();
    await timers.advanceAsync(0);
    const stopped = runner.stop().then(() => log.push('stop resolved'));
    await timers.advanceAsync(0);
    expect(log).toEqual(['run started']);
    blocked.open();
    await stopped;
    expect(log).toEqual(['run started', 'run ended', 'stopped', 'stop resolved']);
    trigger.kick();
    await timers.advanceAsync(1000);
    expect(log.filter((l) => l === 'run started')).toHaveLength(1);
  });

  it('a run asks for its next time; a gathering wait is not cut short by kicks', async () => {
    const timers = new ManualClock(0);
    const { runner } = runnerWith(timers);
    const trigger = new JobTrigger();
    const runs: number[] = [];
    const answers = [{ inMs: 0 }, { inMs: 100, gather: true }, { inMs: 1000 }, { inMs: 1000 }];
    const run = async () => {
      runs.push(timers.now());
      return answers.shift();
    };
    runner.add({ name: 'batch', kind: 'queued', everyMs: 5000, trigger, run });
    runner.start();
    await timers.advanceAsync(50);
    // At start, at once again after a full batch, then a gathering wait of 100 ms.
    expect(runs).toEqual([0, 0]);
    trigger.kick();
    await timers.advanceAsync(99 - 50);
    expect(runs).toEqual([0, 0]);
    await timers.advanceAsync(1);
    // The kick during the gathering wait was kept: the wait after that run (1000 ms) is cut short.
    expect(runs).toEqual([0, 0, 100, 100]);
    // An ordinary wait is cut short by a kick.
    await timers.advanceAsync(10);
    trigger.kick();
    await timers.advanceAsync(0);
    expect(runs).toEqual([0, 0, 100, 100, 110]);
    await runner.stop();
  });

  it('skips a run whose lease another replica holds, and runs when it is free again', async () => {
    const timers = new ManualClock(0);
    const { runner, count } = runnerWith(timers);
    let heldElsewhere = true;
    const lease: JobLease = {
      hold: async (_name, run) => (heldElsewhere ? { held: false } : { held: true, value: await run() }),
    };
    let runs = 0;
    runner.add({ name: 'prune', kind: 'periodic', everyMs: 1000, lease, run: async () => void runs++ });
    runner.start();
    await timers.advanceAsync(1000);
    expect(runs).toBe(0);
    heldElsewhere = false;
    await timers.advanceAsync(1000);
    expect(runs).toBe(1);
    expect(await count('banyan_job_runs_total', 'prune')).toBe(1);
    await runner.stop();
  });

  it('refuses a name registered twice', () => {
    const { runner } = runnerWith(new ManualClock(0));
    const job: Job = { name: 'same', kind: 'queued', run: async () => undefined };
    expect(() => runner.add(job, { ...job })).toThrow(/twice/);
  });
});
