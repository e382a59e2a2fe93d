import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/platform/clock.js';

describe('ManualClock', () => {
  it('fires timers in due order, each at its time, and intervals again until cancelled', () => {
    const clock = new ManualClock(1000);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    const every = clock.setInterval(() => fired.push(['i', clock.now()]), 15);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 20); // same time as b: after it, set later
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(21);
    expect(fired).toEqual([
      ['a', 1010],
      ['i', 1015],
      ['b', 1020],
      ['c', 1020],
      ['i', 1030],
    ]);
    expect(clock.now()).toBe(1030);
    every.cancel();
    clock.advance(100);
    expect(fired).toHaveLength(5);
    expect(clock.timerCount).toBe(0);
  });

  it('fires a timer set by a timer within the same advance, when it falls due', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 5), 5);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([10]);
  });

  it('advanceAsync lets a promise chain a timer started go on before the next timer', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => void Promise.resolve().then(() => seen.push('first settled')), 1);
    clock.setTimeout(() => seen.push('second'), 2);
    await clock.advanceAsync(2);
    expect(seen).toEqual(['first settled', 'second']);
  });
});

describe('systemClock', () => {
  it('tells the wall clock, and a cancelled timer never fires', async () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(50);
    let fired = false;
    systemClock.setTimeout(() => (fired = true), 0).cancel();
    const later = new Promise<void>((resolve) => systemClock.setTimeout(resolve, 1));
    await later;
    expect(fired).toBe(false);
  });
});
