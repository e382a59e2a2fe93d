import { describe, expect, it } from 'vitest';
import { AnswerFloor } from '../../src/chat/answer-floor.js';

// Issue 35 (9): `invited` answers of adds leave at one time, whichever path was taken.

describe('AnswerFloor', () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('holds every answer to the floor, whatever its work took below it', () => {
    const c = clock();
    const floor = new AnswerFloor(100, 30_000, 2000, c.now);
    for (const work of [3, 40, 99]) {
      const started = c.now();
      c.advance(work);
      expect(work + floor.waitMs(started)).toBe(100);
    }
  });

  it('rises to the slowest such work of the window (under load every path waits alike), then falls back', () => {
    const c = clock();
    const floor = new AnswerFloor(100, 30_000, 2000, c.now);
    let started = c.now();
    c.advance(250); // a slow invitation
    expect(floor.waitMs(started)).toBe(0);
    started = c.now();
    c.advance(10); // a fast "nothing" right after: answered as late as the slow one
    expect(10 + floor.waitMs(started)).toBe(250);
    c.advance(30_000); // next window: the last one's slowest still counts
    started = c.now();
    c.advance(10);
    expect(10 + floor.waitMs(started)).toBe(250);
    c.advance(60_000); // two windows on: back to the floor
    started = c.now();
    c.advance(10);
    expect(10 + floor.waitMs(started)).toBe(100);
  });

  it('never holds past the cap, and 0 turns it off', () => {
    const c = clock();
    const floor = new AnswerFloor(100, 30_000, 2000, c.now);
    let started = c.now();
    c.advance(5000);
    expect(floor.waitMs(started)).toBe(0);
    started = c.now();
    c.advance(10);
    expect(10 + floor.waitMs(started)).toBe(2000);
    const off = new AnswerFloor(0, 30_000, 2000, c.now);
    expect(off.waitMs(c.now() - 1)).toBe(0);
  });
});
