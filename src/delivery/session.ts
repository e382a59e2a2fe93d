import type { Principal } from '../platform/auth/tokens.js';
import type { ControlMessage } from './control.js';

/**
 * One authenticated connection as delivery sees it: who it is, which groups it follows, and where
 * it stands on the way to `ready`. The transport's socket handle rides along as `socket`.
 */
export interface Session<S> {
  readonly socket: S;
  /** Unique per connection across replicas: typing skips it, read markers name it. */
  readonly connectionId: string;
  readonly principal: Principal;
  /** starting: loading groups before `ready`; ready: following its groups; closed: gone (never send again). */
  phase: 'starting' | 'ready' | 'closed';
  /** Groups this session follows: subscribed to their topics, holding a feed reference. */
  readonly groups: Set<string>;
  /** Control messages that arrived while starting, applied right after `ready`. */
  deferred: ControlMessage[];
  /** Groups the user left while this session was not yet following them: not to be followed. */
  readonly recentlyLeft: Set<string>;
}

/** A function, not an inline check, because the phase changes across awaits. */
export const isClosed = (session: Session<unknown>) => session.phase === 'closed';
