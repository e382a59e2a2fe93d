import type { SessionTokens } from './session-tokens.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';

/** docs/protocol.md §2 "Sessions and refresh tokens". */
export function sessionRoutes(
  router: HttpRouter,
  sessions: SessionTokens,
  bodies: HttpBodies,
  localAccounts: boolean,
  limits: Pick<RateLimits, 'refresh'>,
) {
  // Refresh tokens are minted by local accounts' ways in, and signing needs their secret.
  if (localAccounts) {
    router.public('post', '/v1/sessions/refresh', bodies.refreshSession, { 200: 'signedIn' }, async ({ body, address }) => {
      await limits.refresh(address);
      return { status: 200, body: (await sessions.refresh(body.refreshToken)) satisfies HttpReply<'signedIn'> };
    });
  }
  router.authed('get', '/v1/sessions', undefined, { 200: 'sessions' }, async ({ principal }) => ({
    status: 200,
    body: (await sessions.list(principal)) satisfies HttpReply<'sessions'>,
  }));
  // After `DELETE /v1/sessions/current` (accounts/routes.ts), which keeps its meaning.
  router.authed('del', '/v1/sessions/:id', undefined, { 204: null }, async ({ principal, params }) => {
    await sessions.endOne(principal, idParam(params.id, 'session'));
    return { status: 204 };
  });
}
