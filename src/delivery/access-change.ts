// Access changes travel on ACCESS_TOPIC to every replica, for its membership cache.

/** A change of who is in a group or what they may do. */
export interface AccessChange {
  group: string;
  /** The member whose membership changed; absent when the group itself changed (settings). */
  user?: string;
}

export const encodeAccessChange = (c: AccessChange) => JSON.stringify(c);
export const decodeAccessChange = (data: string) => JSON.parse(data) as AccessChange;
