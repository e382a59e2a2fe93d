import { idParam, parseParam, type HttpRouter } from '../../gateway/http.js';
import { seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import type { Notifications } from './notifications.js';

/** docs/protocol.md §8 "Notifications": notification preferences, Web Push subscriptions, reach statistics. */
export function notificationRoutes(router: HttpRouter, n: Notifications, bodies: HttpBodies, vapidPublicKey: string) {
  router.authed(
    'put',
    '/v1/groups/:id/notifications',
    bodies.notificationPreference,
    { 204: null },
    async ({ principal, params, body }) => {
      await n.setPreference(principal.userId, idParam(params.id, 'group'), body);
      return { status: 204 };
    },
  );

  // The application server key a browser subscribes with (PushManager.subscribe); public by nature.
  router.public('get', '/v1/push/vapid-key', undefined, { 200: 'vapidKey' }, () => ({ status: 200, body: { publicKey: vapidPublicKey } }));

  router.authed('post', '/v1/push/subscriptions', bodies.pushSubscription, { 201: 'created' }, async ({ principal, body }) => ({
    status: 201,
    body: { id: await n.subscribePush(principal.userId, body) },
  }));

  router.authed('del', '/v1/push/subscriptions/:id', undefined, { 204: null }, async ({ principal, params }) => {
    await n.unsubscribePush(principal.userId, idParam(params.id, 'subscription'));
    return { status: 204 };
  });

  router.authed('get', '/v1/groups/:id/messages/:seq/stats', undefined, { 200: 'stats' }, async ({ principal, params }) => ({
    status: 200,
    body: await n.stats(principal.userId, idParam(params.id, 'group'), parseParam(params.seq, seqParam, 'message')),
  }));
}
