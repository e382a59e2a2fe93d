import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Privacy } from './privacy.js';
import { privacyRoutes } from './routes.js';

export const privacyModule = (privacy: Privacy, ctx: ModuleContext): FeatureModule => ({
  name: 'privacy',
  routes: (router) => privacyRoutes(router, privacy, ctx.bodies),
});
