import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Accounts } from './accounts.js';
import { accountRoutes } from './routes.js';

export const accountsModule = (accounts: Accounts, ctx: ModuleContext): FeatureModule => ({
  name: 'accounts',
  routes: (router) => accountRoutes(router, accounts, ctx.bodies, ctx.localAccounts, ctx.limits),
});
