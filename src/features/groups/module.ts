import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import { type GroupServices, groupRoutes } from './routes.js';

export const groupsModule = (services: GroupServices, ctx: ModuleContext): FeatureModule => ({
  name: 'groups',
  routes: (router) => groupRoutes(router, services, ctx.bodies, ctx.limits),
});
