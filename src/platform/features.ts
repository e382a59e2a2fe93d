import type { Tokens } from './auth/tokens.js';
import { Accounts } from '../features/accounts/accounts.js';
import { Attachments, type MediaDeps } from '../features/attachments/attachments.js';
import { Communities } from '../features/communities/communities.js';
import type { ChatDeps } from './deps.js';
import { Direct } from '../features/groups/direct.js';
import { Governance } from '../features/governance/governance.js';
import { Groups } from '../features/groups/groups.js';
import { Invitations } from '../features/groups/invitations.js';
import { Privacy } from '../features/privacy/privacy.js';
import { Pins } from '../features/pins/pins.js';
import { Expiry } from '../features/messages/expiry.js';
import { PresenceFeed, type PresenceSettings } from '../features/profiles-presence/presence-feed.js';
import { Profiles } from '../features/profiles-presence/profiles.js';
import { SessionStarts } from '../features/sessions/session-starts.js';
import type { Presence } from '../features/profiles-presence/presence-store.js';
import { MembershipCache } from '../features/groups/membership-cache.js';
import { Messages } from '../features/messages/messages.js';
import { Search } from '../features/search/search.js';
import { Notifications } from '../features/notifications/notifications.js';
import { Polls } from '../features/polls-events/polls.js';
import { ReachStats } from '../features/messages/reach.js';
import { Webhooks } from '../features/webhooks/webhooks.js';
import { checkTargetUrl } from './net/address-guard.js';

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
  const membership = new MembershipCache(deps.db, undefined, () => deps.publisher.busHealthy());
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
    /** The domain's background jobs (the composition root runs them): tallies, reach frames, presence frames, revoked-session pruning. */
    jobs: () => [messages.tallies.job(), reach.job(), presenceFeed.job(), accounts.revoked.pruneJob()],
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
