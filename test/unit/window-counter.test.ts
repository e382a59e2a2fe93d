import { describe, expect, it } from 'vitest';
import { WindowCounter } from '../../src/gateway/window-counter.js';
import { ManualClock } from '../../src/platform/clock.js';

// The synchronous HTTP limit that lets a WebSocket upgrade be decided inside uWS's handler.

describe('WindowCounter', () => {
  it('lets `points` requests of a key through in a window, then answers the ms left in it', () => {
    const counter = new WindowCounter(3, 1000);
    expect([counter.take('a', 10_000), counter.take('a', 10_100), counter.take('a', 10_200)]).toEqual([0, 0, 0]);
    expect(counter.take('a', 10_400)).toBe(600);
    // Refused requests count too, and the wait shrinks with the window.
    expect(counter.take('a', 10_999)).toBe(1);
  });

  it('starts afresh when the window ends', () => {
    const counter = new WindowCounter(1, 1000);
    expect(counter.take('a', 0)).toBe(0);
    expect(counter.take('a', 500)).toBe(500);
    expect(counter.take('a', 1000)).toBe(0);
    expect(counter.take('a', 1999)).toBe(1);
    // A window starts at the first request after the last one ended, not on a fixed grid.
    expect(counter.take('a', 5500)).toBe(0);
    expect(counter.take('a', 6400)).toBe(100);
    expect(counter.take('a', 6500)).toBe(0);
  });

  it('counts each key on its own', () => {
    const counter = new WindowCounter(2, 60_000);
    expect([counter.take('a', 0), counter.take('a', 1)]).toEqual([0, 0]);
    expect(counter.take('a', 2)).toBe(59_998);
    expect([counter.take('b', 3), counter.take('b', 4)]).toEqual([0, 0]);
    expect(counter.take('b', 5)).toBe(59_995);
    expect(counter.take('c', 6)).toBe(0);
    expect(counter.take('a', 7)).toBe(59_993);
  });

  it('reads the time from its clock when none is given', () => {
    const clock = new ManualClock();
    const counter = new WindowCounter(1, 1000, clock);
    expect(counter.take('a')).toBe(0);
    clock.advance(400);
    expect(counter.take('a')).toBe(600);
    clock.advance(600);
    expect(counter.take('a')).toBe(0);
  });
});
