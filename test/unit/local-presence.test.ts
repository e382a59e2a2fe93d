import { describe, expect, it } from 'vitest';
import { LocalPresence, type PresenceChange } from '../../src/features/profiles-presence/presence-store.js';
import { ManualClock } from '../../src/platform/clock.js';

describe('LocalPresence (one replica, no Redis)', () => {
  it('reports who came and went, and when each was last seen, by its clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
    const presence = new LocalPresence(clock);
    const changes: PresenceChange[] = [];
    presence.onChange((change) => changes.push(change));
    presence.online('asha');
    presence.online('ben');
    clock.advance(90_000);
    presence.offline('ben');
    expect(changes).toEqual([
      { userId: 'asha', online: true, lastSeen: null },
      { userId: 'ben', online: true, lastSeen: null },
      { userId: 'ben', online: false, lastSeen: Date.UTC(2026, 5, 1, 12, 1, 30) },
    ]);
    expect(await presence.connectedAmong(['asha', 'ben', 'cleo'])).toEqual(new Set(['asha']));
    expect(await presence.lastSeenOf(['asha', 'ben', 'cleo'])).toEqual(new Map([['ben', Date.UTC(2026, 5, 1, 12, 1, 30)]]));
  });
});
