// Decisions about a member's own account (docs/protocol.md §2).

/** Ways in that prove who someone is without their password: a session begun so may set a new one. */
const PASSWORDLESS_WAYS_IN = new Set(['phone', 'passkey', 'recovery', 'link']);
/** How long after such a sign-in the password may be changed without the current one. */
export const FRESH_SIGN_IN_MS = 10 * 60_000;

/**
 * True when the calling session may set a new password without giving the current one: it began
 * by a phone code, a passkey, a recovery code or a sign-in link less than 10 minutes ago (the
 * recovery of a forgotten password: docs/protocol.md §2 "Phone numbers and one-time codes").
 */
export function mayChangePasswordWithoutCurrent(session: { method: string; createdAt: Date } | undefined, now: number): boolean {
  if (!session || !PASSWORDLESS_WAYS_IN.has(session.method)) return false;
  const age = now - session.createdAt.getTime();
  return age >= 0 && age < FRESH_SIGN_IN_MS;
}
