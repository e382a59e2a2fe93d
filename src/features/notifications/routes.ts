import type { Chat } from '../../platform/features.js';
import { seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import { idParam, parseParam, type HttpRouter } from '../../gateway/http.js';

/** docs/protocol.md §8 "Notifications": notification preferences, Web Push subscriptions, community webhooks, reach statistics. */
export function notificationRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies, vapidPublicKey: string) {
  const n = chat.notifications;

  router.authed('put', '/v1/groups/:id/notifications', bodies.notificationPreference, async ({ principal, params, body }) => {
    await n.setPreference(principal.userId, idParam(params.id, 'group'), body);
    return { status: 204 };
  });

  // The application server key a browser subscribes with (PushManager.subscribe); public by nature.
  router.public('get', '/v1/push/vapid-key', undefined, () => ({ status: 200, body: { publicKey: vapidPublicKey } }));

  router.authed('post', '/v1/push/subscriptions', bodies.pushSubscription, async ({ principal, body }) => ({
    status: 201,
    body: { id: await n.subscribePush(principal.userId, body) },
  }));

  router.authed('del', '/v1/push/subscriptions/:id', undefined, async ({ principal, params }) => {
    await n.unsubscribePush(principal.userId, idParam(params.id, 'subscription'));
    return { status: 204 };
  });

  const communityId = (params: { id: string }) => idParam(params.id, 'community');
  const webhookId = (params: { webhookId: string }) => idParam(params.webhookId, 'webhook');
  router.authed('post', '/v1/communities/:id/webhooks', bodies.createWebhook, async ({ principal, params, body }) => ({
    status: 201,
    body: await chat.webhooks.create(principal.userId, communityId(params), body),
  }));
  router.authed('get', '/v1/communities/:id/webhooks', undefined, async ({ principal, params }) => ({
    status: 200,
    body: { webhooks: await chat.webhooks.list(principal.userId, communityId(params)) },
  }));
  router.authed('get', '/v1/communities/:id/webhooks/:webhookId', undefined, async ({ principal, params }) => ({
    status: 200,
    body: { webhook: await chat.webhooks.get(principal.userId, communityId(params), webhookId(params)) },
  }));
  router.authed('del', '/v1/communities/:id/webhooks/:webhookId', undefined, async ({ principal, params }) => {
    await chat.webhooks.delete(principal.userId, communityId(params), webhookId(params));
    return { status: 204 };
  });
  router.authed('get', '/v1/communities/:id/webhooks/:webhookId/deliveries', undefined, async ({ principal, params }) => ({
    status: 200,
    body: { deliveries: await chat.webhooks.deliveries(principal.userId, communityId(params), webhookId(params)) },
  }));

  router.authed('get', '/v1/groups/:id/messages/:seq/stats', undefined, async ({ principal, params }) => ({
    status: 200,
    body: await n.stats(principal.userId, idParam(params.id, 'group'), parseParam(params.seq, seqParam, 'message')),
  }));
}
