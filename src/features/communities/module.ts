import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Communities } from './communities.js';
import { communityRoutes } from './routes.js';

export const communitiesModule = (communities: Communities, ctx: ModuleContext): FeatureModule => ({
  name: 'communities',
  routes: (router) => communityRoutes(router, communities, ctx.bodies),
});
