import type { WebSocket } from 'uWebSockets.js';
import type { Principal } from '../platform/auth/tokens.js';
import type { Session } from '../delivery/session.js';
import type { Timer } from '../platform/clock.js';

/**
 * Where a connection stands in the gateway. A principal exists only from `upgraded` on, and a
 * session (delivery's view: groups, phase to `ready`) only in `open`, so neither is ever assumed.
 */
export type SocketPhase =
  /** Waiting for the `auth` frame (a browser: no header at upgrade). */
  | { phase: 'auth' }
  /** The auth frame's token is being checked: no second auth frame, no commands yet. */
  | { phase: 'checking' }
  /** The upgrade's Authorization header was verified; `open` turns it into a session. */
  | { phase: 'upgraded'; principal: Principal }
  | { phase: 'open'; session: Session<Socket> }
  | { phase: 'closed' };

/** Per-socket state, the typed user data of each uWS WebSocket. */
export interface SocketData {
  state: SocketPhase;
  readonly rate: { tokens: number; last: number; strikes: number };
  timers: Timer[];
}

export type Socket = WebSocket<SocketData>;

export function newSocketData(principal: Principal | null, burst: number): SocketData {
  return {
    state: principal ? { phase: 'upgraded', principal } : { phase: 'auth' },
    rate: { tokens: burst, last: Date.now(), strikes: 0 },
    timers: [],
  };
}
