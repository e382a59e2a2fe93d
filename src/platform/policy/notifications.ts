import type { GroupKind } from './access.js';

// docs/protocol.md §8 "Notifications": the level a member gets without a preference of their own.

export type NotifyLevel = 'all' | 'mentions' | 'none';

/** Every message in direct, announcement and small groups; only mentions in groups past `allMaxMembers`. */
export function defaultNotifyLevel(kind: GroupKind, memberCount: number, allMaxMembers: number): NotifyLevel {
  return kind !== 'group' || memberCount <= allMaxMembers ? 'all' : 'mentions';
}

/** A member's level: their own choice, else the default. */
export const notifyLevelOf = (chosen: NotifyLevel | null, kind: GroupKind, memberCount: number, allMaxMembers: number): NotifyLevel =>
  chosen ?? defaultNotifyLevel(kind, memberCount, allMaxMembers);
