import type { FeatureModule } from '../../platform/module.js';
import { pinCommands } from './commands.js';
import type { Pins } from './pins.js';
import { pinRoutes } from './routes.js';

export const pinsModule = (pins: Pins): FeatureModule => ({
  name: 'pins',
  routes: (router) => pinRoutes(router, pins),
  commands: pinCommands(pins),
});
