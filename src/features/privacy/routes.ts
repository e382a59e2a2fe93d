import type { Chat } from '../../platform/features.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, type HttpRouter } from '../../gateway/http.js';

/** docs/protocol.md §8 "Privacy and safety" and §8: profiles and presence, the caller's privacy, invitations, blocks. */
export function privacyRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies) {
  router.authed('patch', '/v1/me', bodies.updateMe, async ({ principal, body }) => ({
    status: 200,
    body: { user: await chat.privacy.update(principal, body) } satisfies HttpReply<'profile'>,
  }));

  router.authed('get', '/v1/users/:id', undefined, async ({ principal, params }) => ({
    status: 200,
    body: { user: await chat.profiles.get(principal.userId, idParam(params.id, 'user')) } satisfies HttpReply<'user'>,
  }));

  router.authed('get', '/v1/groups/:id/presence', undefined, async ({ principal, params }) => ({
    status: 200,
    body: await chat.presence.ofGroup(principal.userId, idParam(params.id, 'group')),
  }));

  router.authed('get', '/v1/invitations', undefined, async ({ principal }) => ({
    status: 200,
    body: await chat.invitations.list(principal.userId),
  }));

  router.authed('post', '/v1/groups/:id/invitation', undefined, async ({ principal, params }) => {
    const accepted = await chat.invitations.accept(principal.userId, idParam(params.id, 'invitation'));
    // docs/protocol.md §8 "Joining": `202 {status: "pending"}` when it became a join request.
    return 'group' in accepted
      ? { status: 200, body: accepted satisfies HttpReply<'group'> }
      : { status: 202, body: accepted satisfies HttpReply<'invitationAccepted'> };
  });

  router.authed('del', '/v1/groups/:id/invitation', undefined, async ({ principal, params }) => {
    await chat.invitations.decline(principal.userId, idParam(params.id, 'invitation'));
    return { status: 204 };
  });

  router.authed('get', '/v1/blocks', undefined, async ({ principal }) => ({
    status: 200,
    body: await chat.privacy.blocks(principal.userId),
  }));

  router.authed('put', '/v1/blocks/:userId', undefined, async ({ principal, params }) => {
    await chat.privacy.block(principal.userId, idParam(params.userId, 'user'));
    return { status: 204 };
  });

  router.authed('del', '/v1/blocks/:userId', undefined, async ({ principal, params }) => {
    await chat.privacy.unblock(principal.userId, idParam(params.userId, 'user'));
    return { status: 204 };
  });
}
