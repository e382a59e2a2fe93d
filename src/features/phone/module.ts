import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { PhoneSignIn } from './phone.js';
import { phoneRoutes } from './routes.js';

export const phoneModule = (phone: PhoneSignIn, ctx: ModuleContext): FeatureModule => ({
  name: 'phone',
  routes: (router) => phoneRoutes(router, phone, ctx.bodies, ctx.localAccounts, ctx.limits),
});
