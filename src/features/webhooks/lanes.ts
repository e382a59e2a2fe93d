// What keeps one community's webhooks from holding up everyone else's (docs/protocol.md §8,
// Notifications): a bounded number of requests in flight per replica, per community and per
// endpoint, and a circuit breaker per endpoint that stops sending to one that times out or fails
// until a single probe succeeds. Pure bookkeeping, time from an injectable clock.

import { type Clock as PlatformClock, systemClock } from '../../platform/clock.js';

/** What the breakers read of the clock (src/platform/clock.ts). */
export type Clock = Pick<PlatformClock, 'now'>;
export { systemClock };

export interface BreakerSettings {
  /** Consecutive failures (answers that are not 2xx, network errors) that open the breaker. */
  failureThreshold: number;
  /** How long it stays open the first time; doubled on every failed probe, up to `maxOpenMs`. */
  openMs: number;
  maxOpenMs: number;
}

interface BreakerState {
  failures: number;
  /** Open until this time (ms); 0 while closed. */
  openUntil: number;
  /** The open time the next opening lasts. */
  nextOpenMs: number;
  /** A probe (the one request allowed once the open time ran out) is in flight. */
  probing: boolean;
}

export type BreakerPhase = 'closed' | 'open' | 'half-open';

/**
 * Per-endpoint circuit breakers. Closed: send. Open: send nothing (deliveries wait, none is
 * dropped) until `openUntil`. Half-open: one probe at a time; it closes the breaker when it
 * succeeds and opens it again, for twice as long, when it fails. A timeout opens at once: it held
 * a slot for the whole timeout.
 */
export class CircuitBreakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(
    private readonly settings: BreakerSettings,
    private readonly clock: Clock = systemClock,
  ) {}

  state(key: string): BreakerPhase {
    const s = this.states.get(key);
    if (!s || s.openUntil === 0) return 'closed';
    return this.clock.now() < s.openUntil ? 'open' : 'half-open';
  }

  /** Until when `key`'s breaker is open (0: not open). */
  openUntil(key: string): number {
    return this.state(key) === 'open' ? this.states.get(key)!.openUntil : 0;
  }

  /** How many more requests to `key` may start now, given the endpoint's own limit. */
  room(key: string, limit: number): number {
    const state = this.state(key);
    if (state === 'closed') return limit;
    if (state === 'open') return 0;
    return this.states.get(key)!.probing ? 0 : 1;
  }

  /** A request to `key` starts; true when it is the half-open breaker's probe. */
  started(key: string): boolean {
    if (this.state(key) !== 'half-open') return false;
    this.states.get(key)!.probing = true;
    return true;
  }

  succeeded(key: string): void {
    this.states.delete(key);
  }

  /**
   * A request to `key` failed (`probe`: what `started` said of it); returns the time the breaker
   * is open until when this opened it (undefined when it did not).
   */
  failed(key: string, timedOut: boolean, probe = false): number | undefined {
    const s = this.states.get(key) ?? { failures: 0, openUntil: 0, nextOpenMs: this.settings.openMs, probing: false };
    this.states.set(key, s);
    if (probe) s.probing = false;
    // A request started before the breaker opened, failing after: the breaker has already opened.
    else if (s.openUntil !== 0) return undefined;
    else if (!timedOut && ++s.failures < this.settings.failureThreshold) return undefined;
    s.openUntil = this.clock.now() + s.nextOpenMs;
    s.nextOpenMs = Math.min(this.settings.maxOpenMs, s.nextOpenMs * 2);
    return s.openUntil;
  }

  /** Endpoints whose breaker is not closed (a closed breaker is forgotten). */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }
}

export interface SlotLimits {
  /** Requests in flight on this replica. */
  total: number;
  perCommunity: number;
  perEndpoint: number;
}

/** Requests in flight, counted per community and per endpoint. */
export class DeliverySlots {
  private inFlight = 0;
  private readonly byCommunity = new Map<string, number>();
  private readonly byEndpoint = new Map<string, number>();

  constructor(readonly limits: SlotLimits) {}

  get used(): number {
    return this.inFlight;
  }

  free(): number {
    return Math.max(0, this.limits.total - this.inFlight);
  }

  usedBy(communityId: string): number {
    return this.byCommunity.get(communityId) ?? 0;
  }

  usedAt(endpoint: string): number {
    return this.byEndpoint.get(endpoint) ?? 0;
  }

  /** Communities in flight (community → requests): what a claim must leave room for. */
  communities(): Map<string, number> {
    return this.byCommunity;
  }

  endpoints(): Map<string, number> {
    return this.byEndpoint;
  }

  take(communityId: string, endpoint: string): void {
    this.inFlight++;
    bump(this.byCommunity, communityId, 1);
    bump(this.byEndpoint, endpoint, 1);
  }

  release(communityId: string, endpoint: string): void {
    this.inFlight--;
    bump(this.byCommunity, communityId, -1);
    bump(this.byEndpoint, endpoint, -1);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * What a claim may take, from the slots in flight and the breakers: communities and endpoints
 * with no room left are left out of the claim altogether; the others' room is passed along so the
 * claim takes no more of each than fits (docs/protocol.md §8).
 */
export function claimRoom(slots: DeliverySlots, breakers: CircuitBreakers, knownEndpoints: Iterable<string>) {
  const { perCommunity, perEndpoint } = slots.limits;
  const fullCommunities: string[] = [];
  const communityUsed: Record<string, number> = {};
  for (const [community, used] of slots.communities()) {
    if (used >= perCommunity) fullCommunities.push(community);
    else communityUsed[community] = used;
  }
  const blockedEndpoints: string[] = [];
  const endpointRoom: Record<string, number> = {};
  for (const endpoint of new Set([...knownEndpoints, ...slots.endpoints().keys()])) {
    const room = Math.min(perEndpoint - slots.usedAt(endpoint), breakers.room(endpoint, perEndpoint));
    if (room <= 0) blockedEndpoints.push(endpoint);
    else if (room < perEndpoint) endpointRoom[endpoint] = room;
  }
  return { free: slots.free(), fullCommunities, communityUsed, blockedEndpoints, endpointRoom, perCommunity, perEndpoint };
}
