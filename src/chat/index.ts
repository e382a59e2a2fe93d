import type { Tokens } from '../auth/tokens.js';
import { Accounts } from './accounts.js';
import { Attachments, type MediaDeps } from './attachments.js';
import { Communities } from './communities.js';
import type { ChatDeps } from './deps.js';
import { Direct } from './direct.js';
import { Governance } from './governance.js';
import { Groups } from './groups.js';
import { Invitations } from './invitations.js';
import { Privacy } from './privacy.js';
import { MembershipCache } from './membership-cache.js';
import { Messages } from './messages.js';
import { Search } from './search.js';

/** The domain, as transports see it. Knows nothing of uWS or HTTP. */
export function createChat(deps: ChatDeps, tokens: Tokens, media: Omit<MediaDeps, 'db' | 'logger'>) {
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
    attachments: new Attachments({ ...media, db: deps.db, logger: deps.logger }),
    search: new Search(deps.db),
    governance: new Governance(deps, groups, messages),
  };
}

export type Chat = ReturnType<typeof createChat>;
export type { ChatDeps, ChatLimits } from './deps.js';
