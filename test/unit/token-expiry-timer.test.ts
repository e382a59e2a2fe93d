import { describe, expect, it, vi } from 'vitest';
import { callAt } from '../../src/gateway/websocket.js';
import { ManualClock, type Timer } from '../../src/platform/clock.js';

describe('callAt (the token-expiry close)', () => {
  it('waits 30 days in steps: not at once, not at the 24.8-day timer limit, but at the time', () => {
    const clock = new ManualClock();
    const day = 24 * 3600 * 1000;
    const fired = vi.fn();
    const timers: Timer[] = [];
    callAt(new Date(clock.now() + 30 * day), timers, fired, clock);
    clock.advance(1000);
    expect(fired).not.toHaveBeenCalled();
    clock.advance(25 * day);
    expect(fired).not.toHaveBeenCalled();
    clock.advance(5 * day - 2000);
    expect(fired).not.toHaveBeenCalled();
    clock.advance(1000);
    expect(fired).toHaveBeenCalledTimes(1);
    // Every step is on the socket's list, so closing it clears whichever is pending.
    expect(timers.length).toBe(2);
  });

  it('fires nothing once its timers are cancelled (the socket closed)', () => {
    const clock = new ManualClock();
    const fired = vi.fn();
    const timers: Timer[] = [];
    callAt(new Date(clock.now() + 60_000), timers, fired, clock);
    for (const timer of timers) timer.cancel();
    clock.advance(120_000);
    expect(fired).not.toHaveBeenCalled();
    expect(clock.timerCount).toBe(0);
  });
});
