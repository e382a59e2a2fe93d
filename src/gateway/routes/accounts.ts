import type { Chat } from '../../chat/index.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { HttpRouter } from '../http.js';

/** PROTOCOL.md §3: local accounts and sessions. */
export function accountRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies, localAccounts: boolean) {
  // Turned off, the endpoints do not exist (404 whatever the body), rather than answer 400 first.
  if (localAccounts) {
    router.public('post', '/v1/accounts', bodies.signUp, async ({ body }) => ({
      status: 201,
      body: (await chat.accounts.signUp(body)) satisfies HttpReply<'signedIn'>,
    }));
    router.public('post', '/v1/sessions', bodies.signIn, async ({ body }) => ({
      status: 200,
      body: (await chat.accounts.signIn(body)) satisfies HttpReply<'signedIn'>,
    }));
  }
  // Also for external tokens: their `sid` is revocable too (PROTOCOL.md §3).
  router.authed('del', '/v1/sessions/current', undefined, async ({ principal }) => {
    await chat.accounts.signOut(principal);
    return { status: 204 };
  });
}
