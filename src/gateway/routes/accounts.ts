import type { Chat } from '../../chat/index.js';
import { AppError } from '../../protocol/errors.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpRouter } from '../http.js';

/** PROTOCOL.md §3: local accounts and sessions. */
export function accountRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies, localAccounts: boolean) {
  const requireLocalAccounts = () => {
    if (!localAccounts) throw new AppError('not_found', 'local accounts are turned off on this server');
  };
  router.public('post', '/v1/accounts', bodies.signUp, async ({ body }) => {
    requireLocalAccounts();
    return { status: 201, body: await chat.accounts.signUp(body) };
  });
  router.public('post', '/v1/sessions', bodies.signIn, async ({ body }) => {
    requireLocalAccounts();
    return { status: 200, body: await chat.accounts.signIn(body) };
  });
  router.authed('del', '/v1/sessions/current', undefined, async ({ principal }) => {
    await chat.accounts.signOut(principal);
    return { status: 204 };
  });
}
