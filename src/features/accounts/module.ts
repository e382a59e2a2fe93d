import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Accounts } from './accounts.js';
import { accountRoutes, type InviteSignUps } from './routes.js';
import { sessionRoutes } from './session-routes.js';

export const accountsModule = (accounts: Accounts, invites: InviteSignUps, ctx: ModuleContext): FeatureModule => ({
  name: 'accounts',
  routes: (router) => {
    accountRoutes(router, accounts, invites, ctx.bodies, ctx.localAccounts, ctx.limits);
    sessionRoutes(router, accounts.sessions, ctx.bodies, ctx.localAccounts, ctx.limits);
  },
});
