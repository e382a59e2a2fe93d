import type { GroupState, TimelineItem } from '../../src/client/index.js';

// What the user already read, kept on this device so the app shows it at once and offline: the
// list of groups with their last messages, and the latest messages of each conversation opened.
// Kept per user in localStorage (small: 50 messages per conversation) and emptied on sign-out,
// with the service worker's copy of API answers (web/src/sw.ts).

/** A message as kept: the SDK's timeline entry (membership lines are not kept). */
export type SavedMessage = TimelineItem;
export type SavedGroup = Pick<GroupState, 'id' | 'kind' | 'name' | 'communityId' | 'role'>;
export interface Preview {
  sender: string;
  text: string;
  ts: string;
}

const PREFIX = 'banyan.offline.';
const read = <T>(key: string): T | undefined => {
  try {
    return (JSON.parse(localStorage.getItem(PREFIX + key) ?? 'null') as T | null) ?? undefined;
  } catch {
    return undefined;
  }
};
const write = (key: string, value: unknown) => {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or refused: the app works without its offline copy.
  }
};

export const offline = {
  conversation: (user: string, group: string) => read<{ group: SavedGroup; messages: SavedMessage[] }>(`${user}.g.${group}`),
  saveConversation(user: string, group: SavedGroup, messages: SavedMessage[]) {
    write(`${user}.g.${group.id}`, { group, messages });
  },
  home: (user: string) => read<{ groups: (SavedGroup & { unread: number })[]; previews: Record<string, Preview> }>(`${user}.home`),
  saveHome(user: string, groups: (SavedGroup & { unread: number })[], previews: Record<string, Preview>) {
    write(`${user}.home`, { groups, previews });
  },
  /** Forgets everything kept for this device's user (sign-out). */
  clear() {
    for (const key of Object.keys(localStorage)) if (key.startsWith(PREFIX)) localStorage.removeItem(key);
    if (typeof caches !== 'undefined') void caches.delete('banyan-data');
  },
};
