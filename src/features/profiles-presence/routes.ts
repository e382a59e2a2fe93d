import { idParam, type HttpRouter } from '../../gateway/http.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { PresenceFeed } from './presence-feed.js';
import type { Profiles } from './profiles.js';

/** docs/protocol.md §8: profiles and presence. */
export function profileRoutes(router: HttpRouter, profiles: Profiles, presence: PresenceFeed) {
  router.authed('get', '/v1/users/:id', undefined, { 200: 'user' }, async ({ principal, params }) => ({
    status: 200,
    body: { user: await profiles.get(principal.userId, idParam(params.id, 'user')) } satisfies HttpReply<'user'>,
  }));

  router.authed('get', '/v1/groups/:id/presence', undefined, { 200: 'presence' }, async ({ principal, params }) => ({
    status: 200,
    body: await presence.ofGroup(principal.userId, idParam(params.id, 'group')),
  }));
}
