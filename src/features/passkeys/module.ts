import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { InviteSignUps } from '../accounts/index.js';
import type { Passkeys } from './passkeys.js';
import { passkeyRoutes } from './routes.js';

export const passkeysModule = (passkeys: Passkeys, invites: InviteSignUps, ctx: ModuleContext): FeatureModule => ({
  name: 'passkeys',
  routes: (router) => passkeyRoutes(router, passkeys, invites, ctx.bodies, ctx.localAccounts, ctx.limits),
});
