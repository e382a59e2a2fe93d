import type { Chat } from '../../chat/index.js';
import { AppError } from '../../protocol/errors.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { HttpRouter } from '../http.js';
import type { RateLimits } from '../rate-limits.js';

/** Runs a password check under the sign-in guard: refused while locked, failures counted, a success resets. */
async function guarded<T>(limits: RateLimits, key: string, address: string, check: () => Promise<T>): Promise<T> {
  await limits.signIn.admit(key, address);
  let result: T;
  try {
    result = await check();
  } catch (err) {
    if (err instanceof AppError && (err.code === 'unauthorized' || err.code === 'forbidden')) await limits.signIn.failed(key, address);
    throw err;
  }
  await limits.signIn.succeeded(key, address);
  return result;
}

/** PROTOCOL.md §3: local accounts and sessions. */
export function accountRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies, localAccounts: boolean, limits: RateLimits) {
  // Turned off, the endpoints do not exist (404 whatever the body), rather than answer 400 first.
  if (localAccounts) {
    router.public('post', '/v1/accounts', bodies.signUp, async ({ body, address }) => {
      await limits.signUp(address);
      return { status: 201, body: (await chat.accounts.signUp(body)) satisfies HttpReply<'signedIn'> };
    });
    router.public('post', '/v1/sessions', bodies.signIn, async ({ body, address }) => ({
      status: 200,
      body: (await guarded(limits, body.username, address, () => chat.accounts.signIn(body))) satisfies HttpReply<'signedIn'>,
    }));
    router.authed('put', '/v1/me/password', bodies.changePassword, async ({ principal, body, address }) => {
      // A stolen token must not make guessing the password any cheaper than signing in does.
      const username = (await chat.accounts.usernameOf(principal.userId)) ?? principal.userId;
      await guarded(limits, username, address, () => chat.accounts.changePassword(principal, body));
      return { status: 204 };
    });
  }
  // Also for external tokens: their `sid` is revocable too (PROTOCOL.md §3).
  router.authed('del', '/v1/sessions/current', undefined, async ({ principal }) => {
    await chat.accounts.signOut(principal);
    return { status: 204 };
  });
  router.authed('del', '/v1/sessions', undefined, async ({ principal }) => {
    await chat.accounts.signOutEverywhere(principal);
    return { status: 204 };
  });
}
