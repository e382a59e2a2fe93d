import type { Accounts } from './accounts.js';
import { AppError } from '../../protocol/errors.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';

/** Who a password check is for: what the guard and the line count it by. */
interface Checker {
  address: string;
  /** The username, or undefined for a sign-up (no account yet). */
  username?: string;
  /** A trusted device's id (docs/protocol.md §2): counted per device, not per username. */
  device?: string | undefined;
}

/**
 * Runs a password check (which hashes) in the password line, under the sign-in guard: a place in
 * the line is taken first, so a request the line cannot take is refused (429, Retry-After) before
 * anything is counted or waited for; then the sign-in guard's (or sign-up's) limits; then the check, in turn.
 */
async function checked<T>(limits: RateLimits, who: Checker, check: () => Promise<T>): Promise<T> {
  // Ordered by address; the account is capped too, unless a trusted device asks.
  const keys = [`a:${who.address}`, ...(who.username !== undefined && who.device === undefined ? [`u:${who.username}`] : [])];
  const place = limits.passwordLine.take(keys);
  const { username } = who;
  try {
    await (username === undefined ? limits.signUp(who.address) : limits.signIn.admit(username, who.address, who.device));
  } catch (err) {
    place.cancel();
    throw err;
  }
  if (username === undefined) return place.run(check);
  let result: T;
  try {
    result = await place.run(check);
  } catch (err) {
    if (err instanceof AppError && (err.code === 'unauthorized' || err.code === 'forbidden'))
      await limits.signIn.failed(username, who.address, who.device);
    else if (err instanceof AppError && err.code === 'rate_limited') await limits.signIn.unchecked(username, who.address, who.device);
    throw err;
  }
  await limits.signIn.succeeded(username, who.address, who.device);
  return result;
}

/** docs/protocol.md §2: local accounts and sessions. */
export function accountRoutes(router: HttpRouter, accounts: Accounts, bodies: HttpBodies, localAccounts: boolean, limits: RateLimits) {
  // Turned off, the endpoints do not exist (404 whatever the body), rather than answer 400 first.
  if (localAccounts) {
    router.public('post', '/v1/accounts', bodies.signUp, { 201: 'signedIn' }, async ({ body, address }) => {
      return { status: 201, body: (await checked(limits, { address }, () => accounts.signUp(body))) satisfies HttpReply<'signedIn'> };
    });
    router.public('post', '/v1/sessions', bodies.signIn, { 200: 'signedIn' }, async ({ body, address }) => {
      const who = { address, username: body.username, device: accounts.trustedDevice(body.username, body.device) };
      return { status: 200, body: (await checked(limits, who, () => accounts.signIn(body))) satisfies HttpReply<'signedIn'> };
    });
    router.authed('put', '/v1/me/password', bodies.changePassword, { 204: null }, async ({ principal, body, address }) => {
      // A stolen token must not make guessing the password any cheaper than signing in does.
      const username = (await accounts.usernameOf(principal.userId)) ?? principal.userId;
      await checked(limits, { address, username }, () => accounts.changePassword(principal, body));
      return { status: 204 };
    });
  }
  // Also for external tokens: their `sid` is revocable too (docs/protocol.md §2).
  router.authed('del', '/v1/sessions/current', undefined, { 204: null }, async ({ principal }) => {
    await accounts.signOut(principal);
    return { status: 204 };
  });
  router.authed('del', '/v1/sessions', undefined, { 204: null }, async ({ principal }) => {
    await accounts.signOutEverywhere(principal);
    return { status: 204 };
  });
}
