import { accountsModule } from '../features/accounts/index.js';
import { attachmentsModule } from '../features/attachments/index.js';
import { communitiesModule } from '../features/communities/index.js';
import { governanceModule } from '../features/governance/index.js';
import { groupsModule } from '../features/groups/index.js';
import { messagesModule } from '../features/messages/index.js';
import { MyData, myDataModule } from '../features/my-data/index.js';
import { notificationsModule } from '../features/notifications/index.js';
import { passkeysModule, Passkeys } from '../features/passkeys/index.js';
import { pinsModule } from '../features/pins/index.js';
import { pollsEventsModule } from '../features/polls-events/index.js';
import { privacyModule } from '../features/privacy/index.js';
import { profilesPresenceModule } from '../features/profiles-presence/index.js';
import { searchModule } from '../features/search/index.js';
import { webhooksModule } from '../features/webhooks/index.js';
import { PhoneSignIn, phoneModule, pickSender } from '../features/phone/index.js';
import type { FeatureModule, ModuleContext } from './module.js';
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
import { findMembershipRow } from '../features/sessions/index.js';
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
  const membership = new MembershipCache(
    (groupId, userId) => findMembershipRow(deps.db, groupId, userId),
    undefined,
    () => deps.publisher.busHealthy(),
    deps.clock,
  );
  const reach = new ReachStats(deps);
  const messages = new Messages(deps, membership, reach);
  const accounts = new Accounts(deps, tokens);
  const attachments = new Attachments({ ...media, db: deps.db, logger: deps.logger });
  const myData = new MyData(deps, accounts, groups, {
    blobs: media.blobs,
    stagingDir: media.stagingDir,
    sweepAttachments: () => attachments.sweep(),
  });
  const communities = new Communities(deps, groups, messages);
  const phone = new PhoneSignIn(deps, accounts, tokens, communities, pickSender(deps, deps.config.storage.databaseUrl));
  return {
    membership,
    privacy: new Privacy(deps, profiles, presenceFeed),
    profiles,
    sessionStarts,
    presence: presenceFeed,
    invitations: new Invitations(deps, groups),
    /** The domain's background jobs (the composition root runs them): tallies, reach frames, presence frames, revoked-session pruning. */
    jobs: () => [
      messages.tallies.job(),
      reach.job(),
      presenceFeed.job(),
      accounts.revoked.pruneJob(),
      accounts.recovery.pruneJob(),
      ...myData.jobs(),
      ...phone.jobs(),
    ],
    reach,
    accounts,
    passkeys: new Passkeys(deps, accounts),
    phone,
    groups,
    messages,
    pins: new Pins(deps),
    /** Erases expired messages (tests call it; a timer does otherwise). */
    expiry: new Expiry(deps),
    polls: new Polls(deps, membership, messages.tallies),
    communities,
    direct: new Direct(deps, groups),
    attachments,
    myData,
    search: new Search(deps.db, deps.config.search.scanRows),
    governance: new Governance(deps, groups, messages),
    notifications: new Notifications(deps, (endpoint) => {
      checkTargetUrl(endpoint, deps.config.outbound.allowPrivate, 'endpoint');
    }),
    webhooks: new Webhooks(deps, (url) => {
      checkTargetUrl(url, deps.config.outbound.allowPrivate, 'url');
    }),
  };
}

export type Chat = ReturnType<typeof createChat>;
export type { ChatConfig, ChatDeps } from './deps.js';

/** Each feature's routes and commands (docs/architecture.md "How to add a feature"), in registration order. */
export function featureModules(chat: Chat, ctx: ModuleContext): FeatureModule[] {
  return [
    accountsModule(chat.accounts, chat.communities, ctx),
    passkeysModule(chat.passkeys, chat.communities, ctx),
    groupsModule({ groups: chat.groups, invitations: chat.invitations, direct: chat.direct, privacy: withOwnPhone(chat) }, ctx),
    messagesModule(chat.messages, ctx),
    pinsModule(chat.pins),
    pollsEventsModule(chat.polls, ctx),
    privacyModule(chat.privacy, ctx),
    profilesPresenceModule(chat.profiles, chat.presence),
    communitiesModule(chat.communities, ctx),
    governanceModule(chat.governance, ctx),
    attachmentsModule(chat.attachments, ctx),
    searchModule(chat.search, ctx),
    notificationsModule(chat.notifications, ctx),
    webhooksModule(chat.webhooks, ctx),
    myDataModule(chat.myData, chat.accounts, ctx),
    phoneModule(chat.phone, ctx),
  ];
}

/** `GET /v1/me` with the member's own phone number (docs/protocol.md §2; never shown to anyone else). */
const withOwnPhone = (chat: Chat): Pick<Chat['privacy'], 'me'> => ({
  me: async (principal) => {
    const [me, phone] = await Promise.all([chat.privacy.me(principal), chat.phone.phoneOf(principal.userId)]);
    return { ...me, phone };
  },
});
