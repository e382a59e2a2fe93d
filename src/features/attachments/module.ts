import type { FeatureModule, ModuleContext } from '../../platform/module.js';
import type { Attachments } from './attachments.js';
import { attachmentRoutes } from './routes.js';

export const attachmentsModule = (attachments: Attachments, ctx: ModuleContext): FeatureModule => ({
  name: 'attachments',
  routes: (router) => attachmentRoutes(router, attachments, ctx.maxUploadBytes),
});
