import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Accounts } from '../accounts/accounts.js';
import type { MyData } from './my-data.js';
import { myDataRoutes } from './routes.js';

export const myDataModule = (myData: MyData, accounts: Accounts, ctx: ModuleContext): FeatureModule => ({
  name: 'my-data',
  routes: (router) => myDataRoutes(router, myData, accounts, ctx.bodies, ctx.limits),
});
