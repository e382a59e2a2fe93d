import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import { pollCommands } from './commands.js';
import type { Polls } from './polls.js';
import { pollRoutes } from './routes.js';

export const pollsEventsModule = (polls: Polls, ctx: ModuleContext): FeatureModule => ({
  name: 'polls-events',
  routes: (router) => pollRoutes(router, polls, ctx.bodies),
  commands: pollCommands(polls),
});
