import { describe, expect, it } from 'vitest';
import { FairLine } from '../../src/features/accounts/fair-line.js';
import type { AppError } from '../../src/protocol/errors.js';

// The line in front of password hashing (docs/protocol.md §2): bounded, least recently served
// address first, refusals at once with the expected wait. Jobs here are promises the test settles.

/** A job the test finishes by hand; `started` says whether the line ran it yet. */
function job(line: FairLine, key: string, log: string[], extraKeys: string[] = []) {
  let finish!: () => void;
  const state = { started: false, refused: undefined as AppError | undefined, finish: () => finish() };
  const place = line.take([key, ...extraKeys]);
  const done = place
    .run(
      () =>
        new Promise<void>((resolve) => {
          state.started = true;
          log.push(key);
          finish = resolve;
        }),
    )
    .catch((err: AppError) => {
      state.refused = err;
    });
  return Object.assign(state, { done });
}

const refusedWith = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error('not refused');
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Finishes whatever runs, turn after turn, until every job is done or refused. */
async function drain(jobs: ReturnType<typeof job>[]): Promise<void> {
  for (let i = 0; i <= jobs.length; i++) {
    await tick();
    for (const j of jobs) if (j.started) j.finish();
  }
  await Promise.all(jobs.map((j) => j.done));
}

describe('FairLine', () => {
  it('serves a newcomer before addresses that keep places, which take turns among themselves', async () => {
    const line = new FairLine({ concurrency: 1, perKey: 4, maxWaiting: 100 });
    const log: string[] = [];
    const jobs = ['a', 'a', 'a', 'b', 'b', 'b'].map((key) => job(line, key, log));
    await tick();
    expect(log).toEqual(['a']);
    const fresh = job(line, 'fresh', log);
    await drain([...jobs, fresh]);
    // First places first, the address holding fewest first among them: fresh (1), then b (3); then turns.
    expect(log).toEqual(['a', 'fresh', 'b', 'a', 'b', 'a', 'b']);
  });

  it('refuses at once past the places of one key, or of an account among its keys, with the expected wait', async () => {
    const line = new FairLine({ concurrency: 1, perKey: 2, maxWaiting: 100 });
    const log: string[] = [];
    const held = [job(line, 'a', log), job(line, 'a', log)];
    const refused = refusedWith(() => line.take(['a']));
    expect(refused).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } });
    expect(Number(refused.details?.retryAfterMs)).toBeGreaterThanOrEqual(1000);
    // Another address naming the same account twice more is refused too; without it, let in.
    const byAccount = [job(line, 'b', log, ['u:x']), job(line, 'c', log, ['u:x'])];
    expect(refusedWith(() => line.take(['d', 'u:x']))).toMatchObject({ code: 'rate_limited' });
    const other = job(line, 'd', log);
    await drain([...held, ...byAccount, other]);
    // Its places are given back once done.
    expect(() => line.take(['a']).cancel()).not.toThrow();
    expect(line.size).toEqual({ waiting: 0, running: 0 });
  });

  it('when full, a newcomer takes the place of the last one waiting, which is refused', async () => {
    const line = new FairLine({ concurrency: 1, perKey: 10, maxWaiting: 3 });
    const log: string[] = [];
    const first = job(line, 'a', log);
    await tick();
    const waiting = [job(line, 'a', log), job(line, 'a', log), job(line, 'a', log)];
    expect(line.size).toEqual({ waiting: 3, running: 1 });
    // Another a: the line is full and a is not less served than itself.
    expect(refusedWith(() => line.take(['a']))).toMatchObject({ code: 'rate_limited' });
    const fresh = job(line, 'fresh', log);
    await tick();
    expect(waiting.filter((j) => j.refused).length).toBe(1);
    expect(waiting.at(-1)?.refused).toMatchObject({ code: 'rate_limited' });
    first.finish();
    await tick();
    expect(log).toEqual(['a', 'fresh']);
    await drain([fresh, ...waiting]);
  });

  it('tells the wait from the pace jobs have been taking (injectable clock)', async () => {
    let now = 0;
    const line = new FairLine({ concurrency: 2, perKey: 100, maxWaiting: 100, now: () => now });
    const fourSeconds = async () => {
      now += 4000;
    };
    for (let i = 0; i < 40; i++) await line.take(['a']).run(fourSeconds);
    // Nothing waiting: one round of 4 s.
    expect(line.expectedWaitMs()).toBeGreaterThan(3500);
    expect(line.expectedWaitMs()).toBeLessThanOrEqual(4000);
    const log: string[] = [];
    const jobs = Array.from({ length: 6 }, () => job(line, 'b', log));
    await tick();
    // Two running, four waiting: three rounds ahead of a newcomer.
    expect(line.expectedWaitMs()).toBeGreaterThan(3 * 3500);
    await drain(jobs);
  });
});
