import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { AccountChecks, MyData } from './my-data.js';
import { myDataRoutes } from './routes.js';

export const myDataModule = (myData: MyData, accounts: AccountChecks, ctx: ModuleContext): FeatureModule => ({
  name: 'my-data',
  routes: (router) => myDataRoutes(router, myData, accounts, ctx.bodies, ctx.limits),
});
