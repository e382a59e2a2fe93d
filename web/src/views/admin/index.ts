import type { Ctx } from '../../main.js';
import { groupAdminView } from './group.js';
import { membersView } from './members.js';
import { reportsView } from './reports.js';
import { requestsView } from './requests.js';
import { settingsView } from './settings.js';

/** `#/c/:id/<section>[/…]`: the coordinator's screens of a community. */
export function adminView(root: HTMLElement, ctx: Ctx, param: string) {
  const [communityId = '', section, groupId] = param.split('/');
  switch (section) {
    case 'members':
      return membersView(root, ctx, communityId);
    case 'requests':
      return requestsView(root, ctx, communityId);
    case 'reports':
      return reportsView(root, ctx, communityId);
    case 'settings':
      return settingsView(root, ctx, communityId);
    case 'g':
      return groupAdminView(root, ctx, communityId, groupId ?? '');
    default:
      ctx.navigate(`#/c/${encodeURIComponent(communityId)}`);
  }
}
