import { badRequest } from '../../protocol/errors.js';

/** The messageTtlS values of docs/protocol.md §8 "Pins and disappearing messages" (besides null): a day, a week, 90 days. */
export const MESSAGE_TTLS = [86_400, 604_800, 7_776_000] as const;

/** A messageTtlS the server takes: null, the protocol's three, or one MESSAGE_TTL_ALLOWED adds. */
export function assertMessageTtl(ttl: unknown, extra: readonly number[] = []): void {
  if (ttl === undefined || ttl === null) return;
  if (typeof ttl === 'number' && ((MESSAGE_TTLS as readonly number[]).includes(ttl) || extra.includes(ttl))) return;
  throw badRequest('invalid settings.messageTtlS', {
    issues: [{ path: 'settings.messageTtlS', message: `must be null or one of ${[...MESSAGE_TTLS, ...extra].join(', ')}` }],
  });
}
