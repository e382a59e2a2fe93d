import { idParam, type HttpRouter } from '../../gateway/http.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { Webhooks } from './webhooks.js';

/** docs/protocol.md §8 "Notifications": a community's webhooks and their deliveries. */
export function webhookRoutes(router: HttpRouter, webhooks: Webhooks, bodies: HttpBodies) {
  const communityId = (params: { id: string }) => idParam(params.id, 'community');
  const webhookId = (params: { webhookId: string }) => idParam(params.webhookId, 'webhook');
  router.authed(
    'post',
    '/v1/communities/:id/webhooks',
    bodies.createWebhook,
    { 201: 'webhookCreated' },
    async ({ principal, params, body }) => ({
      status: 201,
      body: await webhooks.create(principal.userId, communityId(params), body),
    }),
  );
  router.authed('get', '/v1/communities/:id/webhooks', undefined, { 200: 'webhooks' }, async ({ principal, params }) => ({
    status: 200,
    body: { webhooks: await webhooks.list(principal.userId, communityId(params)) },
  }));
  router.authed('get', '/v1/communities/:id/webhooks/:webhookId', undefined, { 200: 'webhook' }, async ({ principal, params }) => ({
    status: 200,
    body: { webhook: await webhooks.get(principal.userId, communityId(params), webhookId(params)) },
  }));
  router.authed('del', '/v1/communities/:id/webhooks/:webhookId', undefined, { 204: null }, async ({ principal, params }) => {
    await webhooks.delete(principal.userId, communityId(params), webhookId(params));
    return { status: 204 };
  });
  router.authed(
    'get',
    '/v1/communities/:id/webhooks/:webhookId/deliveries',
    undefined,
    { 200: 'deliveries' },
    async ({ principal, params }) => ({
      status: 200,
      body: { deliveries: await webhooks.deliveries(principal.userId, communityId(params), webhookId(params)) },
    }),
  );
}
