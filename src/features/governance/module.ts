import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Governance } from './governance.js';
import { governanceRoutes } from './routes.js';

export const governanceModule = (governance: Governance, ctx: ModuleContext): FeatureModule => ({
  name: 'governance',
  routes: (router) => governanceRoutes(router, governance, ctx.bodies, ctx.limits),
});
