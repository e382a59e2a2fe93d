import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import { messageCommands } from './commands.js';
import type { Messages } from './messages.js';
import { messageRoutes } from './routes.js';

export const messagesModule = (messages: Messages, ctx: ModuleContext): FeatureModule => ({
  name: 'messages',
  routes: (router) => messageRoutes(router, messages, ctx.bodies),
  commands: messageCommands(messages),
});
