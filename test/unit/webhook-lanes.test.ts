import { describe, expect, it } from 'vitest';
import { isRefusedTarget, PrivateAddressError } from '../../src/platform/net/address-guard.js';
import { CircuitBreakers, claimRoom, DeliverySlots } from '../../src/features/webhooks/lanes.js';

// docs/protocol.md §8: the bookkeeping that isolates one community's webhooks from another's.

class SteppedClock {
  constructor(public t = 1_000_000) {}
  now() {
    return this.t;
  }
}

const settings = { failureThreshold: 3, openMs: 1000, maxOpenMs: 4000 };

describe('circuit breaker', () => {
  it('a timeout opens it at once; open sends nothing; half-open lets one probe through; success closes it', () => {
    const clock = new SteppedClock();
    const b = new CircuitBreakers(settings, clock);
    expect(b.room('e', 8)).toBe(8);
    expect(b.started('e')).toBe(false);
    expect(b.failed('e', true)).toBe(clock.t + 1000);
    expect(b.state('e')).toBe('open');
    expect(b.room('e', 8)).toBe(0);
    clock.t += 999;
    expect(b.room('e', 8)).toBe(0);
    clock.t += 1;
    expect(b.state('e')).toBe('half-open');
    expect(b.room('e', 8)).toBe(1);
    expect(b.started('e')).toBe(true);
    expect(b.room('e', 8), 'one probe at a time').toBe(0);
    clock.t += 5;
    expect(b.failed('e', true), 'a request older than the probe').toBeUndefined();
    expect(b.room('e', 8), 'still probing').toBe(0);
    b.succeeded('e');
    expect(b.state('e')).toBe('closed');
    expect(b.room('e', 8)).toBe(8);
  });

  it('other failures open it after the threshold in a row; a failed probe doubles the open time up to the most', () => {
    const clock = new SteppedClock();
    const b = new CircuitBreakers(settings, clock);
    expect(b.failed('e', false)).toBeUndefined();
    expect(b.failed('e', false)).toBeUndefined();
    expect(b.failed('e', false)).toBe(clock.t + 1000);
    const opens: number[] = [];
    for (let i = 0; i < 4; i++) {
      clock.t = b.openUntil('e');
      expect(b.started('e'), 'the probe').toBe(true);
      opens.push(b.failed('e', false, true)! - clock.t);
    }
    expect(opens).toEqual([2000, 4000, 4000, 4000]);
  });

  it('a success in between resets the count; requests that fail after it opened do not reopen it', () => {
    const clock = new SteppedClock();
    const b = new CircuitBreakers(settings, clock);
    b.failed('e', false);
    b.failed('e', false);
    b.succeeded('e');
    expect(b.failed('e', false)).toBeUndefined();
    expect(b.failed('e', false)).toBeUndefined();
    const until = b.failed('e', false)!;
    clock.t += 10;
    expect(b.failed('e', true), 'already open').toBeUndefined();
    expect(b.openUntil('e')).toBe(until);
    expect(b.state('other')).toBe('closed');
  });
});

describe('delivery slots and claim room', () => {
  const limits = { total: 10, perCommunity: 4, perEndpoint: 2 };

  it('a community at its limit, and an endpoint at its limit or with an open breaker, are left out of the claim', () => {
    const clock = new SteppedClock();
    const slots = new DeliverySlots(limits);
    const breakers = new CircuitBreakers(settings, clock);
    for (let i = 0; i < 4; i++) slots.take('abuser', `https://stall/${i}`);
    slots.take('good', 'https://sms/a');
    slots.take('good', 'https://sms/a');
    slots.take('other', 'https://x/1');
    breakers.failed('https://dead/1', true);
    const room = claimRoom(slots, breakers, breakers.keys());
    expect(room.free).toBe(3);
    expect(room.fullCommunities).toEqual(['abuser']);
    expect(room.communityUsed).toEqual({ good: 2, other: 1 });
    expect(room.blockedEndpoints.sort()).toEqual(['https://dead/1', 'https://sms/a']);
    expect(room.endpointRoom).toEqual({
      'https://stall/0': 1,
      'https://stall/1': 1,
      'https://stall/2': 1,
      'https://stall/3': 1,
      'https://x/1': 1,
    });
    for (let i = 0; i < 4; i++) slots.release('abuser', `https://stall/${i}`);
    expect(slots.usedBy('abuser')).toBe(0);
    expect(claimRoom(slots, breakers, breakers.keys()).fullCommunities).toEqual([]);
  });

  it('a half-open endpoint has room for one probe; none once it is in flight', () => {
    const clock = new SteppedClock();
    const slots = new DeliverySlots(limits);
    const breakers = new CircuitBreakers(settings, clock);
    breakers.failed('https://slow', true);
    clock.t += 1000;
    expect(claimRoom(slots, breakers, breakers.keys()).endpointRoom).toEqual({ 'https://slow': 1 });
    breakers.started('https://slow');
    slots.take('c', 'https://slow');
    expect(claimRoom(slots, breakers, breakers.keys()).blockedEndpoints).toEqual(['https://slow']);
  });

  it('no room at all when every slot is in flight', () => {
    const slots = new DeliverySlots({ total: 2, perCommunity: 4, perEndpoint: 2 });
    slots.take('a', 'u1');
    slots.take('b', 'u2');
    expect(claimRoom(slots, new CircuitBreakers(settings), []).free).toBe(0);
  });
});

describe('refused targets', () => {
  it('private addresses and names that do not exist are refused; a resolver in trouble or a refused connection is not', () => {
    expect(isRefusedTarget(new PrivateAddressError('x'))).toBe(true);
    expect(
      isRefusedTarget(Object.assign(new Error('getaddrinfo ENOTFOUND a.invalid'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' })),
    ).toBe(true);
    expect(isRefusedTarget(Object.assign(new Error('getaddrinfo EAI_AGAIN a'), { code: 'EAI_AGAIN', syscall: 'getaddrinfo' }))).toBe(false);
    expect(isRefusedTarget(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBe(false);
  });
});
