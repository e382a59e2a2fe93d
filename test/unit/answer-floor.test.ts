import { describe, expect, it } from 'vitest';
import { AnswerFloor } from '../../src/features/groups/answer-floor.js';

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

  it('rises with most such work (under load every path waits alike), not with a few slow ones, and falls back after the window', () => {
    const c = clock();
    const floor = new AnswerFloor(100, 30_000, 2000, c.now);
    const answer = (work: number) => {
      const started = c.now();
      c.advance(work);
      const total = work + floor.waitMs(started);
      c.advance(total - work);
      return total;
    };
    // A loaded server: most invitations take 250 ms; a fast "nothing" waits as long.
    for (let i = 0; i < 20; i++) answer(250);
    expect(answer(10)).toBe(250);
    // Past the window, quiet again: back to the floor; one slow answer among many does not hold the rest.
    c.advance(31_000);
    for (let i = 0; i < 20; i++) expect(answer(10)).toBe(100);
    expect(answer(900)).toBe(900);
    expect(answer(10)).toBe(100);
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
