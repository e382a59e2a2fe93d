import { idParam, type HttpRouter } from '../../gateway/http.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { Privacy } from './privacy.js';

/** docs/protocol.md §8 "Privacy and safety": the caller's privacy settings and blocks. */
export function privacyRoutes(router: HttpRouter, privacy: Privacy, bodies: HttpBodies) {
  router.authed('patch', '/v1/me', bodies.updateMe, { 200: 'profile' }, async ({ principal, body }) => ({
    status: 200,
    body: { user: await privacy.update(principal, body) } satisfies HttpReply<'profile'>,
  }));

  router.authed('get', '/v1/blocks', undefined, { 200: 'blocks' }, async ({ principal }) => ({
    status: 200,
    body: await privacy.blocks(principal.userId),
  }));

  router.authed('put', '/v1/blocks/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await privacy.block(principal.userId, idParam(params.userId, 'user'));
    return { status: 204 };
  });

  router.authed('del', '/v1/blocks/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await privacy.unblock(principal.userId, idParam(params.userId, 'user'));
    return { status: 204 };
  });
}
