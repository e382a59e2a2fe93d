import type { Tokens } from '../auth/tokens.js';
import { Accounts } from './accounts.js';
import type { ChatDeps } from './deps.js';
import { Groups } from './groups.js';
import { MembershipCache } from './membership-cache.js';
import { Messages } from './messages.js';

/** The domain, as transports see it. Knows nothing of uWS or HTTP. */
export function createChat(deps: ChatDeps, tokens: Tokens) {
  const groups = new Groups(deps);
  const membership = new MembershipCache(deps.db);
  return {
    membership,
    accounts: new Accounts(deps, tokens),
    groups,
    messages: new Messages(deps, membership),
  };
}

export type Chat = ReturnType<typeof createChat>;
export type { Actor, ChatDeps, ChatLimits } from './deps.js';
