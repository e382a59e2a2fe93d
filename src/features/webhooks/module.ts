import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import { webhookRoutes } from './routes.js';
import type { Webhooks } from './webhooks.js';

export const webhooksModule = (webhooks: Webhooks, ctx: ModuleContext): FeatureModule => ({
  name: 'webhooks',
  routes: (router) => webhookRoutes(router, webhooks, ctx.bodies),
});
