import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import { searchRoutes } from './routes.js';
import type { Search } from './search.js';

export const searchModule = (search: Search, ctx: ModuleContext): FeatureModule => ({
  name: 'search',
  routes: (router) => searchRoutes(router, search, ctx.limits),
});
