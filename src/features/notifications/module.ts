import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Notifications } from './notifications.js';
import { notificationRoutes } from './routes.js';

export const notificationsModule = (notifications: Notifications, ctx: ModuleContext): FeatureModule => ({
  name: 'notifications',
  routes: (router) => notificationRoutes(router, notifications, ctx.bodies, ctx.vapidPublicKey),
});
