import { afterEach, describe, expect, it, vi } from 'vitest';
import { callAt } from '../../src/gateway/websocket.js';

describe('callAt (the token-expiry close)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits 30 days in steps: not at once, not at the 24.8-day timer limit, but at the time', () => {
    vi.useFakeTimers();
    const day = 24 * 3600 * 1000;
    const fired = vi.fn();
    const timers: NodeJS.Timeout[] = [];
    callAt(new Date(Date.now() + 30 * day), timers, fired);
    vi.advanceTimersByTime(1000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(25 * day);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(5 * day - 2000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(fired).toHaveBeenCalledTimes(1);
    // Every step is on the socket's list, so closing it clears whichever is pending.
    expect(timers.length).toBe(2);
  });
});
