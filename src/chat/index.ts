import type { Tokens } from '../auth/tokens.js';
import { findMembershipRow } from '../db/hot-reads.js';
import { Accounts } from './accounts.js';
import { Attachments, type MediaDeps } from './attachments.js';
import { Communities } from './communities.js';
import type { ChatDeps } from './deps.js';
import { Direct } from './direct.js';
import { Governance } from './governance.js';
import { Groups } from './groups.js';
import { Invitations } from './invitations.js';
import { Privacy } from './privacy.js';
import { Pins } from './pins.js';
import { Expiry } from './expiry.js';
import { PresenceFeed, type PresenceSettings } from './presence.js';
import { Profiles } from './profiles.js';
import { SessionStarts } from './session-starts.js';
import type { Presence } from '../notify/presence.js';
import { MembershipCache } from './membership-cache.js';
import { Messages } from './messages.js';
import { Search } from './search.js';
import { Notifications } from './notifications.js';
import { Polls } from './polls.js';
import { ReachStats } from './reach.js';
import { Webhooks } from './webhooks.js';
import { checkTargetUrl } from '../notify/address-guard.js';

/** The domain, as transports see it. Knows nothing of uWS or HTTP. */
export function createChat(
  deps: ChatDeps,
  tokens: Tokens,
  media: Omit<MediaDeps, 'db' | 'logger'>,
  presence: { store: Presence; settings: PresenceSettings },
) {
  const groups = new Groups(deps);
  const profiles = new Profiles(deps, presence.store);
  const sessionStarts = new SessionStarts(deps, profiles);
  const presenceFeed = new PresenceFeed(deps, presence.store, presence.settings);
  const membership = new MembershipCache(
    (groupId, userId) => findMembershipRow(deps.db, groupId, userId),
    undefined,
    () => deps.publisher.busHealthy(),
    deps.clock,
  );
  const reach = new ReachStats(deps);
  const messages = new Messages(deps, membership, reach);
  const accounts = new Accounts(deps, tokens);
  return {
    membership,
    privacy: new Privacy(deps, profiles, presenceFeed),
    profiles,
    sessionStarts,
    presence: presenceFeed,
    invitations: new Invitations(deps, groups),
    /** Stops background work (reaction tallies, presence frames, revoked-session pruning); storage closes after. */
    close: async () => {
      accounts.revoked.close();
      await messages.tallies.close();
      await presenceFeed.close();
    },
    reach,
    accounts,
    groups,
    messages,
    pins: new Pins(deps),
    /** Erases expired messages (tests call it; a timer does otherwise). */
    expiry: new Expiry(deps),
    polls: new Polls(deps, membership, messages.tallies),
    communities: new Communities(deps, groups, messages),
    direct: new Direct(deps, groups),
    attachments: new Attachments({ ...media, db: deps.db, logger: deps.logger }),
    search: new Search(deps.db, deps.limits.searchScanRows),
    governance: new Governance(deps, groups, messages),
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
