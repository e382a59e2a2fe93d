import type { WebSocket } from 'uWebSockets.js';
import type { Principal } from '../auth/tokens.js';
import type { ControlMessage } from '../delivery/control.js';

/** Per-socket state, the typed user data of each uWS WebSocket. */
export interface SocketData {
  readonly connectionId: string;
  /** Set once authenticated (by header at upgrade, or by the `auth` frame). */
  principal: Principal | null;
  /**
   * auth: waiting for the auth frame; starting: loading groups before `ready`;
   * ready: following its groups; closed: gone (never send again).
   */
  phase: 'auth' | 'starting' | 'ready' | 'closed';
  /** Groups this socket follows: subscribed to their uWS topics, holding a feed reference. */
  readonly groups: Set<string>;
  /** Control messages that arrived while starting, applied right after `ready`. */
  deferred: ControlMessage[];
  /** Groups the user left while this socket was not yet following them: not to be followed. */
  readonly recentlyLeft: Set<string>;
  readonly rate: { tokens: number; last: number; strikes: number };
  timers: NodeJS.Timeout[];
}

export type Socket = WebSocket<SocketData>;

export function newSocketData(connectionId: string, principal: Principal | null, burst: number): SocketData {
  return {
    connectionId,
    principal,
    phase: 'auth',
    groups: new Set(),
    deferred: [],
    recentlyLeft: new Set(),
    rate: { tokens: burst, last: Date.now(), strikes: 0 },
    timers: [],
  };
}

/** A function, not an inline check, because the phase changes across awaits. */
export const isClosed = (data: SocketData) => data.phase === 'closed';
