// Control messages for a user, on the user's control shard (topics.ts `controlTopic`): they tell
// that user's sockets, on every replica, about changes that are not events of a group they
// already follow.

export type ControlMessage =
  /** The user joined a group: sockets start following it and get `group_added`. */
  | { kind: 'group_added'; group: string }
  /**
   * The user left a group whose roster is private (an announcement group: no log event tells):
   * their sockets stop following it at once and get `group_removed`.
   */
  | { kind: 'group_removed'; group: string }
  /** Frames for the user's ready sockets as they are (invitations, roster changes for admins); never logged. */
  | { kind: 'frames'; frames: string[] }
  /** The user's read marker moved; `except` is the connection that moved it. */
  | { kind: 'read'; group: string; seq: number; except?: string }
  /** A session was revoked: its sockets close with 4403. */
  | { kind: 'revoke'; sessionId: string }
  /** Every session of the user was revoked (but `except`, the one that changed the password). */
  | { kind: 'revoke_all'; except?: string }
  /** A frame for the user's sockets that is no group's event (join_request, report to admins): sent as is. */
  | { kind: 'frame'; data: string }

  /** An announcement's reach changed (the user is an admin of its group): a `stats` frame. */
  | { kind: 'stats'; stats: ReachStatsFrame };

/** The reach of one message (docs/protocol.md §8 "Notifications"), as `GET …/stats` answers it and `stats` frames carry it. */
export interface ReachStatsFrame {
  group: string;
  seq: number;
  members: number;
  delivered: number;
  notified: number;
  read: number;
}

/** Whether the message ends a socket of this session (4403); sockets of tokens without a session stay. */
export const revokes = (m: ControlMessage, sessionId: string | null | undefined): boolean =>
  sessionId != null && ((m.kind === 'revoke' && m.sessionId === sessionId) || (m.kind === 'revoke_all' && m.except !== sessionId));

/** A control message and the user it is for (a shard carries many users' messages). */
export interface AddressedControl {
  to: string;
  message: ControlMessage;
}

export const encodeControl = (to: string, message: ControlMessage) => JSON.stringify({ to, message } satisfies AddressedControl);

/** The addressed message, or undefined when the data is not one (written by another version). */
export function decodeControl(data: string): AddressedControl | undefined {
  try {
    const value = JSON.parse(data) as Partial<AddressedControl> | null;
    if (typeof value?.to === 'string' && typeof value.message?.kind === 'string') return value as AddressedControl;
  } catch {
    // Not JSON: dropped below.
  }
  return undefined;
}
