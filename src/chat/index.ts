import type { Tokens } from '../auth/tokens.js';
import { Accounts } from './accounts.js';
import { Communities } from './communities.js';
import type { ChatDeps } from './deps.js';
import { Direct } from './direct.js';
import { Governance } from './governance.js';
import { Groups } from './groups.js';
import { Invitations } from './invitations.js';
import { Privacy } from './privacy.js';
import { MembershipCache } from './membership-cache.js';
import { Messages } from './messages.js';

/** The domain, as transports see it. Knows nothing of uWS or HTTP. */
export function createChat(deps: ChatDeps, tokens: Tokens) {
  const groups = new Groups(deps);
  const membership = new MembershipCache(deps.db);
  const messages = new Messages(deps, membership);
  return {
    membership,
    privacy: new Privacy(deps),
    invitations: new Invitations(deps, groups),
    /** Stops background work (reaction tallies); storage closes after. */
    close: () => messages.tallies.close(),
    accounts: new Accounts(deps, tokens),
    groups,
    messages,
    communities: new Communities(deps, groups, messages),
    direct: new Direct(deps, groups),
    governance: new Governance(deps, groups, messages),
  };
}

export type Chat = ReturnType<typeof createChat>;
export type { ChatDeps, ChatLimits } from './deps.js';
