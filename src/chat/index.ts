import type { Tokens } from '../auth/tokens.js';
import { Accounts } from './accounts.js';
import { Communities } from './communities.js';
import type { ChatDeps } from './deps.js';
import { Direct } from './direct.js';
import { Groups } from './groups.js';
import { MembershipCache } from './membership-cache.js';
import { Messages } from './messages.js';
import { Notifications } from './notifications.js';
import { ReachStats } from './reach.js';
import { Webhooks } from './webhooks.js';
import { checkTargetUrl } from '../notify/address-guard.js';

/** The domain, as transports see it. Knows nothing of uWS or HTTP. */
export function createChat(deps: ChatDeps, tokens: Tokens) {
  const groups = new Groups(deps);
  const membership = new MembershipCache(deps.db);
  const reach = new ReachStats(deps);
  const messages = new Messages(deps, membership, reach);
  return {
    membership,
    reach,
    accounts: new Accounts(deps, tokens),
    groups,
    messages,
    communities: new Communities(deps, groups, messages),
    direct: new Direct(deps, groups),
    notifications: new Notifications(deps, (endpoint) => {
      checkTargetUrl(endpoint, deps.limits.allowPrivateTargets ?? false, 'endpoint');
    }),
    webhooks: new Webhooks(deps, (url) => {
      checkTargetUrl(url, deps.limits.allowPrivateTargets ?? false, 'url');
    }),
  };
}

export type Chat = ReturnType<typeof createChat>;
export type { ChatDeps, ChatLimits } from './deps.js';
