import { describe, expect, it } from 'vitest';
import { UserLimits } from '../../src/gateway/user-limits.js';

// Issue 35 (5): one user's sockets share one bucket and one cap; memory is bounded by the users
// who have a socket or a bucket not yet full again. Time comes from the injected clock.

describe('UserLimits', () => {
  const settings = { perS: 2, burst: 4, maxSockets: 2 };
  const clock = (start = 1_000_000) => {
    const c = { now: start, read: () => c.now };
    return c;
  };

  it('one bucket per user whatever the socket; refills at the rate; other users apart', () => {
    const c = clock();
    const limits = new UserLimits(settings, undefined, c.read);
    expect([1, 2, 3, 4].map(() => limits.takeFrame('u'))).toEqual([0, 0, 0, 0]);
    expect(limits.takeFrame('u')).toBe(500);
    expect(limits.takeFrame('v')).toBe(0);
    c.now += 500;
    expect(limits.takeFrame('u')).toBe(0);
    expect(limits.takeFrame('u')).toBe(500);
  });

  it('at most maxSockets sockets per user; a closed one makes room', () => {
    const limits = new UserLimits(settings, undefined, clock().read);
    expect([limits.opened('u'), limits.opened('u'), limits.hasRoom('u'), limits.opened('u')]).toEqual([true, true, false, false]);
    expect(limits.opened('v')).toBe(true);
    limits.closed('u');
    expect([limits.hasRoom('u'), limits.opened('u')]).toEqual([true, true]);
  });

  it('forgets a user only once no socket is open and the bucket is full again: reconnecting never refills it', () => {
    const c = clock();
    const limits = new UserLimits(settings, undefined, c.read);
    limits.opened('u');
    for (let i = 0; i < 4; i++) limits.takeFrame('u');
    limits.closed('u');
    c.now += 1100; // the sweep may run (once a second), the bucket is not full yet (2.2 of 4)
    limits.opened('other');
    expect(limits.size).toBe(2);
    limits.opened('u');
    expect([0, 0, 400].map(() => limits.takeFrame('u'))).toEqual([0, 0, 400]);
    limits.closed('u');
    limits.closed('other');
    c.now += 10_000;
    limits.opened('third');
    expect(limits.size).toBe(1);
  });
});
