import type { z } from 'zod';
import type { HttpBodies } from '../protocol/http-bodies.js';
import type { HttpReplies } from '../protocol/http-replies.js';
import { checkErrorBody, checkReply, type ReplyName } from './checks.js';
import { BanyanError } from './errors.js';
import { TokenKeeper, type SessionTokens } from './tokens.js';

// The HTTP API of docs/protocol.md §2 and docs/protocol.md §8 over the global fetch (browsers, Node 20).

export type Fetch = typeof globalThis.fetch;
type RequestBody = NonNullable<RequestInit['body']>;

export interface HttpOptions {
  /** The server's base URL, e.g. `http://localhost:8080` (a page can use its own origin). */
  url: string;
  /** The bearer token, or a function giving the current one. */
  token?: string | (() => string | Promise<string>) | undefined;
  /**
   * With a string `token`: the sign-in's refresh token (docs/protocol.md §2 "Sessions and refresh
   * tokens"). The access token is then refreshed before it expires and when refused, unnoticed.
   */
  refreshToken?: string | undefined;
  /** The access token's `expiresAt`, so it is refreshed before it runs out. */
  expiresAt?: string | undefined;
  /** Every new token pair a refresh brought: keep it (the refresh token it replaced stops working). */
  onTokens?: ((tokens: SessionTokens) => void) | undefined;
  /** The pair as stored now, when several tabs or processes share the session (client/tokens.ts). */
  storedTokens?: (() => SessionTokens | undefined) | undefined;
  fetch?: Fetch | undefined;
}

/** What `PushSubscription.toJSON()` gives in a browser (the keys are base64url). */
export interface PushSubscriptionLike {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** A request body as the server's schema takes it. */
type Body<K extends keyof HttpBodies> = z.input<HttpBodies[K]>;

const path = (strings: TemplateStringsArray, ...ids: string[]) =>
  strings.reduce((out, s, i) => out + s + (i < ids.length ? encodeURIComponent(ids[i]!) : ''), '');

/** `?a=1&b=2` of the values given, or nothing. */
const query = (values: Record<string, string | undefined>) => {
  const entries = Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
};

const answerPage = (options: { cursor?: string; limit?: number }) => ({
  cursor: options.cursor,
  limit: options.limit === undefined ? undefined : String(options.limit),
});

export class BanyanHttp {
  /** Set with a refresh token: keeps the access token fresh (the client's socket uses it too). */
  readonly tokens: TokenKeeper | undefined;

  constructor(private readonly options: HttpOptions) {
    const { token, refreshToken } = options;
    if (refreshToken !== undefined) {
      if (typeof token !== 'string') throw new BanyanError('bad_request', 'a refresh token goes with the access token it came with');
      this.tokens = new TokenKeeper({
        token,
        refreshToken,
        expiresAt: options.expiresAt,
        onTokens: options.onTokens,
        stored: options.storedTokens,
        refresh: async (presented) => {
          const answer = await this.refreshSession(presented);
          if (answer.refreshToken === undefined) throw new BanyanError('internal', 'the refresh answer has no refresh token');
          return { ...answer, refreshToken: answer.refreshToken };
        },
      });
    }
  }

  // Accounts and sessions (docs/protocol.md §2 "Tokens")
  /**
   * Creates a local account. With `invite` (an invite code), the account joins by it in the same
   * step, and the answer's `invite` says how (`joined` with the community, or `pending`); with a
   * use limit, the invite counts the sign-up instead of the address (docs/protocol.md §2).
   */
  signUp(body: Body<'signUp'>) {
    return this.call('POST', '/v1/accounts', 'signedIn', body, false);
  }
  signIn(body: Body<'signIn'>) {
    return this.call('POST', '/v1/sessions', 'signedIn', body, false);
  }
  /** A new access token and the next refresh token (the one given stops working). Without a token. */
  refreshSession(refreshToken: string) {
    return this.call('POST', '/v1/sessions/refresh', 'signedIn', { refreshToken }, false);
  }
  /** This user's live sessions (device, method, last seen; `current` marks this one). */
  sessions() {
    return this.call('GET', '/v1/sessions', 'sessions');
  }
  /** Ends one of this user's sessions: its sockets close with 4403. */
  endSession(sessionId: string) {
    return this.call('DELETE', path`/v1/sessions/${sessionId}`, undefined);
  }
  signOut() {
    return this.call('DELETE', '/v1/sessions/current', undefined);
  }
  /** Every session of this user ends (this one too): their sockets close with 4403. */
  signOutEverywhere() {
    return this.call('DELETE', '/v1/sessions', undefined);
  }
  /** Sets a new password; every other session of this user ends, this one stays. */
  changePassword(body: Body<'changePassword'>) {
    return this.call('PUT', '/v1/me/password', undefined, body);
  }
  /**
   * A recovery code of the username's account sets a new password and signs in; every other
   * session ends (docs/protocol.md §2 "Recovery codes").
   */
  recover(body: Body<'recover'>) {
    return this.call('POST', '/v1/accounts/recover', 'signedIn', body, false);
  }
  /** Ten new recovery codes, to show once; the old ones stop working. */
  newRecoveryCodes(body: Body<'newRecoveryCodes'>) {
    return this.call('POST', '/v1/me/recovery-codes', 'recoveryCodes', body);
  }
  /** How many recovery codes are left. */
  recoveryCodesLeft() {
    return this.call('GET', '/v1/me/recovery-codes', 'recoveryCodesLeft');
  }
  /** Signs in with an operator's one-time link (docs/protocol.md §2 "Sign-in links"). */
  redeemSignInLink(body: Body<'redeemSignInLink'>) {
    return this.call('POST', '/v1/sign-in-links/redeem', 'signedIn', body, false);
  }

  // Passkeys (docs/protocol.md §2 "Passkeys"): `options` go to navigator.credentials (e.g. through
  // @simplewebauthn/browser's startRegistration / startAuthentication), its answer back with `challengeId`.
  /** Options to register a passkey for the signed-in member. */
  passkeyOptionsToAdd() {
    return this.call('POST', '/v1/me/passkeys/options', 'passkeyOptions');
  }
  addPasskey(body: Body<'addPasskey'>) {
    return this.call('POST', '/v1/me/passkeys', 'passkey', body);
  }
  passkeys() {
    return this.call('GET', '/v1/me/passkeys', 'passkeys');
  }
  renamePasskey(passkeyId: string, name: string) {
    return this.call('PATCH', path`/v1/me/passkeys/${passkeyId}`, 'passkey', { name });
  }
  /** Refused (409 conflict) for the last way in of an account with no password. */
  removePasskey(passkeyId: string) {
    return this.call('DELETE', path`/v1/me/passkeys/${passkeyId}`, undefined);
  }
  /** Options to sign in with any passkey of this server (no username). */
  passkeySignInOptions() {
    return this.call('POST', '/v1/passkeys/options', 'passkeyOptions', undefined, false);
  }
  passkeySignIn(body: Body<'passkeySignIn'>) {
    return this.call('POST', '/v1/passkeys/sign-in', 'signedIn', body, false);
  }
  /** Options to create an account that signs in with a passkey only (409 when the username is taken). */
  passkeySignUpOptions(body: Body<'passkeySignUpOptions'>) {
    return this.call('POST', '/v1/passkeys/sign-up/options', 'passkeyOptions', body, false);
  }
  passkeySignUp(body: Body<'passkeySignUp'>) {
    return this.call('POST', '/v1/passkeys/sign-up', 'signedIn', body, false);
  }
  // Your own data (docs/protocol.md §2 "Your data: export and erasure")
  /** Asks for an export of everything about you; made in the background (`exportStatus` until `ready`). */
  requestExport() {
    return this.call('POST', '/v1/me/exports', 'dataExport');
  }
  exportStatus(id: string) {
    return this.call('GET', path`/v1/me/exports/${id}`, 'dataExport');
  }
  /** The export's zip as a fetch Response, once (a second download is `gone`). */
  async downloadExport(id: string): Promise<Response> {
    const res = await this.fetchRaw('GET', new URL(path`/v1/me/exports/${id}/download`, this.options.url).toString(), {
      authorization: `Bearer ${await this.token()}`,
    });
    if (!res.ok) await this.failure(res);
    return res;
  }
  /** Erases your account (`confirm: "delete my account"`, and the password when it has one); every session ends. */
  deleteAccount(body: Body<'eraseMe'>) {
    return this.call('DELETE', '/v1/me', 'erasure', body);
  }
  // Phone numbers and one-time codes (docs/protocol.md §2)
  /** Sends a sign-in code to the number: `{sent: true}`, whether or not it has an account. */
  requestPhoneCode(body: Body<'phoneCode'>) {
    return this.call('POST', '/v1/phone/codes', 'codeSent', body, false);
  }
  /** Signs in by the code (a new number: an account is made, and needs `name`: `400 name required` asks for it). */
  phoneSignIn(body: Body<'phoneSignIn'>) {
    return this.call('POST', '/v1/phone/sign-in', 'signedIn', body, false);
  }
  /** Sends a code to verify a number of yours. */
  requestMyPhoneCode(body: Body<'phoneCode'>) {
    return this.call('POST', '/v1/me/phone/codes', 'codeSent', body);
  }
  /** Verifies the code: the number is yours (`GET /v1/me` shows it to you only). */
  setMyPhone(body: Body<'attachPhone'>) {
    return this.call('PUT', '/v1/me/phone', 'myPhone', body);
  }
  /** Removes your number (refused when it is your only way in). */
  removeMyPhone() {
    return this.call('DELETE', '/v1/me/phone', undefined);
  }

  // Groups (docs/protocol.md §8)
  me() {
    return this.call('GET', '/v1/me', 'me');
  }
  /** `invited`: every listed member not added directly (they may get an invitation; docs/protocol.md §8 "Privacy and safety"). */
  createGroup(body: Body<'createGroup'>) {
    return this.call('POST', '/v1/groups', 'groupCreated', body);
  }
  group(groupId: string) {
    return this.call('GET', path`/v1/groups/${groupId}`, 'groupDetail');
  }
  /** Name, description, settings (`messageTtlS`: disappearing messages); group admins. */
  updateGroup(groupId: string, body: Body<'updateGroup'>) {
    return this.call('PATCH', path`/v1/groups/${groupId}`, 'group', body);
  }
  /** Pins a message; the group as it now stands (`pins`). */
  pin(groupId: string, seq: number) {
    return this.call('PUT', path`/v1/groups/${groupId}/pins/${String(seq)}`, 'group');
  }
  unpin(groupId: string, seq: number) {
    return this.call('DELETE', path`/v1/groups/${groupId}/pins/${String(seq)}`, 'group');
  }
  members(groupId: string, cursor?: string) {
    return this.call('GET', path`/v1/groups/${groupId}/members` + (cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''), 'members');
  }
  /** `{}` when added; `{status: 'invited'}` for anyone else, whatever the reason (docs/protocol.md §8 "Privacy and safety"). */
  addMember(groupId: string, userId: string, role?: Body<'addMember'>['role']) {
    return this.call('POST', path`/v1/groups/${groupId}/members`, 'memberAdded', { userId, ...(role ? { role } : {}) });
  }
  leaveGroup(groupId: string, userId: string) {
    return this.call('DELETE', path`/v1/groups/${groupId}/members/${userId}`, undefined);
  }
  /** The direct group with `userId` (opened if new): `{group}`. */
  openDirect(userId: string) {
    return this.call('POST', '/v1/direct', 'group', { userId });
  }
  receipts(groupId: string, seq: number) {
    return this.call('GET', path`/v1/groups/${groupId}/messages/${String(seq)}/receipts`, 'receipts');
  }

  // Privacy and safety (docs/protocol.md §8)
  /** Name, avatar (null clears) and privacy settings. */
  updateMe(body: Body<'updateMe'>) {
    return this.call('PATCH', '/v1/me', 'profile', body);
  }
  /** Name and avatar (an image attachment you uploaded, or null): `user` frames tell those who see you (docs/protocol.md §8). */
  updateProfile(body: Pick<Body<'updateMe'>, 'name' | 'avatar'>) {
    return this.updateMe(body);
  }
  /** A user who shares a visible group with you; `not_found` otherwise, as for an unknown id (docs/protocol.md §8). */
  user(userId: string) {
    return this.call('GET', path`/v1/users/${userId}`, 'user');
  }
  /** Who of a small ordinary or direct group's members is online, and when the others were last seen (docs/protocol.md §8). */
  groupPresence(groupId: string) {
    return this.call('GET', path`/v1/groups/${groupId}/presence`, 'presence');
  }
  invitations() {
    return this.call('GET', '/v1/invitations', 'invitations');
  }
  /**
   * Joins the group (`{group}`; its `group_added` follows on the socket), or, in a community whose
   * admins must now say yes, `{status: 'pending'}`: a join request (docs/protocol.md §8 "Joining").
   */
  acceptInvitation(groupId: string) {
    return this.call('POST', path`/v1/groups/${groupId}/invitation`, 'invitationAccepted');
  }
  /** Declines: that group cannot invite this user again. */
  declineInvitation(groupId: string) {
    return this.call('DELETE', path`/v1/groups/${groupId}/invitation`, undefined);
  }
  blocks() {
    return this.call('GET', '/v1/blocks', 'blocks');
  }
  block(userId: string) {
    return this.call('PUT', path`/v1/blocks/${userId}`, undefined);
  }
  unblock(userId: string) {
    return this.call('DELETE', path`/v1/blocks/${userId}`, undefined);
  }

  // Communities (docs/protocol.md §8 "Communities")
  createCommunity(body: Body<'createCommunity'>) {
    return this.call('POST', '/v1/communities', 'community', body);
  }
  community(communityId: string) {
    return this.call('GET', path`/v1/communities/${communityId}`, 'communityDetail');
  }
  /** The community's groups after the first page that `community()` gives. */
  communityGroups(communityId: string, cursor: string) {
    return this.call('GET', `${path`/v1/communities/${communityId}/groups`}?cursor=${encodeURIComponent(cursor)}`, 'communityGroups');
  }
  createCommunityGroup(communityId: string, body: Body<'createCommunityGroup'>) {
    return this.call('POST', path`/v1/communities/${communityId}/groups`, 'group', body);
  }
  joinCommunityGroup(communityId: string, groupId: string) {
    return this.call('POST', path`/v1/communities/${communityId}/groups/${groupId}/join`, undefined);
  }
  createInvite(communityId: string, body: Body<'createInvite'> = {}) {
    return this.call('POST', path`/v1/communities/${communityId}/invites`, 'invite', body);
  }
  /** What an invite link leads to (name, description, member count), before joining it. */
  invitePreview(code: string) {
    return this.call('GET', path`/v1/invites/${code}`, 'invitePreview');
  }
  joinByInvite(code: string) {
    return this.call('POST', path`/v1/invites/${code}/join`, 'joined');
  }
  announce(communityId: string, body: Body<'announce'>) {
    return this.call('POST', path`/v1/communities/${communityId}/announcements`, 'posted', body);
  }

  // Coordinators: what community admins run a community with (docs/communities.md)
  /** Messages as they now stand, newest first (as the socket's `history`). */
  history(groupId: string, options: { before?: number; limit?: number } = {}) {
    const q = query({ before: options.before?.toString(), limit: options.limit?.toString() });
    return this.call('GET', path`/v1/groups/${groupId}/messages` + q, 'messages');
  }
  /** `{}` when added; `{status: 'invited'}` for anyone else, unknown usernames included (docs/protocol.md §8 "Privacy and safety"). */
  addMemberByUsername(groupId: string, username: string) {
    return this.call('POST', path`/v1/groups/${groupId}/members`, 'memberAdded', { username });
  }
  updateCommunity(communityId: string, body: Body<'updateCommunity'>) {
    return this.call('PATCH', path`/v1/communities/${communityId}`, 'community', body);
  }
  /** Every group of the community, private ones too, with counts and last activity (community admins). */
  communityOverview(communityId: string, cursor?: string) {
    return this.call('GET', path`/v1/communities/${communityId}/overview` + query({ cursor }), 'communityOverview');
  }
  /** The community's members (admins), `q` matching part of a display name. */
  communityMembers(communityId: string, options: { q?: string; cursor?: string; limit?: number } = {}) {
    const q = query({ q: options.q, cursor: options.cursor, limit: options.limit?.toString() });
    return this.call('GET', path`/v1/communities/${communityId}/members` + q, 'members');
  }
  /** Removes the user from the community and all its groups (or, for yourself, leaves). */
  removeFromCommunity(communityId: string, userId: string) {
    return this.call('DELETE', path`/v1/communities/${communityId}/members/${userId}`, undefined);
  }
  /** Promotes to community admin (`true`) or demotes to member. */
  setCommunityAdmin(communityId: string, userId: string, admin: boolean) {
    return this.call(admin ? 'PUT' : 'DELETE', path`/v1/communities/${communityId}/admins/${userId}`, undefined);
  }
  joinRequests(communityId: string, cursor?: string) {
    return this.call('GET', path`/v1/communities/${communityId}/requests` + query({ cursor }), 'requests');
  }
  /** Approves (the user joins) or declines a request; `groupId` of a group's request, else the community's. */
  decideRequest(communityId: string, userId: string, approve: boolean, groupId?: string) {
    const action = approve ? 'approve' : 'reject';
    return this.call('POST', `${path`/v1/communities/${communityId}/requests/${userId}`}/${action}`, undefined, groupId ? { groupId } : {});
  }

  // Files and search (docs/protocol.md §8)
  /**
   * Uploads a file (≤ the server's MAX_UPLOAD_BYTES); its id goes in `send(…, {attachments})`.
   * `contentType` must agree with the bytes (the server sniffs them); unknown: application/octet-stream.
   */
  upload(data: Blob | ArrayBuffer | Uint8Array, options: { name: string; contentType?: string }) {
    const type = options.contentType ?? ((typeof Blob !== 'undefined' && data instanceof Blob && data.type) || 'application/octet-stream');
    return this.call('POST', `/v1/attachments?name=${encodeURIComponent(options.name)}`, 'attachment', undefined, true, {
      body: data as RequestBody,
      contentType: type,
    });
  }
  /** Where an attachment (or its image thumbnail) is served; fetch it with the token (`download`). */
  attachmentUrl(id: string, options: { thumbnail?: boolean } = {}) {
    return new URL(path`/v1/attachments/${id}` + (options.thumbnail ? '/thumbnail' : ''), this.options.url).toString();
  }
  /** The attachment's bytes (a `Range` such as `bytes=0-1023` for a part) as a fetch Response. */
  async download(id: string, options: { thumbnail?: boolean; range?: string } = {}): Promise<Response> {
    const res = await this.fetchRaw('GET', this.attachmentUrl(id, options), {
      authorization: `Bearer ${await this.token()}`,
      ...(options.range ? { range: options.range } : {}),
    });
    if (!res.ok) await this.failure(res);
    return res;
  }
  /** Messages of the caller's groups matching `q`, newest first; pass `nextCursor` back for more. */
  search(q: string, options: { group?: string; community?: string; cursor?: string; limit?: number } = {}) {
    const query = new URLSearchParams({ q });
    for (const [k, v] of Object.entries(options)) if (v !== undefined) query.set(k, String(v));
    return this.call('GET', `/v1/search?${query}`, 'search');
  }
  // Moderation (docs/protocol.md §8 "Privacy and safety"): bans, mutes, reports

  /** Community admins: removes the user from the community and all its groups, and keeps them out. */
  ban(communityId: string, userId: string, body: Body<'ban'> = {}) {
    return this.call('PUT', path`/v1/communities/${communityId}/bans/${userId}`, undefined, body);
  }
  unban(communityId: string, userId: string) {
    return this.call('DELETE', path`/v1/communities/${communityId}/bans/${userId}`, undefined);
  }
  bans(communityId: string, cursor?: string) {
    return this.call('GET', path`/v1/communities/${communityId}/bans` + query({ cursor }), 'bans');
  }
  /** Group or community admins: the member cannot send, react or type in the group for `forS` seconds. */
  mute(groupId: string, userId: string, forS: number) {
    return this.call('PUT', path`/v1/groups/${groupId}/mutes/${userId}`, undefined, { forS } satisfies Body<'mute'>);
  }
  unmute(groupId: string, userId: string) {
    return this.call('DELETE', path`/v1/groups/${groupId}/mutes/${userId}`, undefined);
  }
  /** Any member: reports a message to the admins (once per message; repeating changes nothing). */
  report(groupId: string, seq: number, body: Body<'report'>) {
    return this.call('POST', path`/v1/groups/${groupId}/messages/${String(seq)}/report`, 'reported', body);
  }
  /** Community admins: the community's report queue, newest first. */
  communityReports(communityId: string, options: { status?: 'open' | 'resolved'; cursor?: string } = {}) {
    return this.call('GET', path`/v1/communities/${communityId}/reports` + query(options), 'reports');
  }
  /** Group or community admins: one group's report queue. */
  groupReports(groupId: string, options: { status?: 'open' | 'resolved'; cursor?: string } = {}) {
    return this.call('GET', path`/v1/groups/${groupId}/reports` + query(options), 'reports');
  }
  /** Acts on a report (`dismiss`, `delete`, `mute` with `forS?`, `remove`, `ban`) and resolves the message's reports. */
  resolveReport(reportId: string, body: Body<'resolveReport'>) {
    return this.call('POST', path`/v1/reports/${reportId}/resolve`, 'report', body);
  }
  // Notifications (docs/protocol.md §8 "Notifications")
  /** Your notification level in a group (`all`, `mentions`, `none`), muted until `muteUntil` when given. */
  setNotifications(groupId: string, body: Body<'notificationPreference'>) {
    return this.call('PUT', path`/v1/groups/${groupId}/notifications`, undefined, body);
  }
  /** The application server key for `PushManager.subscribe({applicationServerKey})`. */
  vapidKey() {
    return this.call('GET', '/v1/push/vapid-key', 'vapidKey', undefined, false);
  }
  /** Registers a browser's push subscription (`PushSubscription.toJSON()`); answers its id. */
  subscribePush(subscription: PushSubscriptionLike) {
    const body = { endpoint: subscription.endpoint, keys: { p256dh: subscription.keys.p256dh, auth: subscription.keys.auth } };
    return this.call('POST', '/v1/push/subscriptions', 'created', body);
  }
  unsubscribePush(id: string) {
    return this.call('DELETE', path`/v1/push/subscriptions/${id}`, undefined);
  }
  // Polls and events (docs/protocol.md §8)
  /** Votes over HTTP (the socket's `vote` does the same); `[]` retracts. */
  vote(groupId: string, seq: number, options: number[]) {
    return this.call('POST', `${path`/v1/groups/${groupId}`}/messages/${seq}/vote`, 'answered', { options });
  }
  rsvp(groupId: string, seq: number, answer: Body<'rsvp'>['answer']) {
    return this.call('POST', `${path`/v1/groups/${groupId}`}/messages/${seq}/rsvp`, 'answered', { answer });
  }
  closePoll(groupId: string, seq: number) {
    return this.call('POST', `${path`/v1/groups/${groupId}`}/messages/${seq}/close`, 'answered');
  }
  /**
   * `voters: true` in an announcement group is refused (forbidden): nobody learns who voted there.
   * Voters come a page at a time (`limit`, default 100): pass the answer's `nextCursor` as `cursor`.
   */
  votes(groupId: string, seq: number, options: { voters?: boolean; cursor?: string; limit?: number } = {}) {
    const q = query({
      voters: options.voters === undefined ? undefined : String(options.voters),
      ...answerPage(options),
    });
    return this.call('GET', `${path`/v1/groups/${groupId}`}/messages/${seq}/votes${q}`, 'votes');
  }
  /** As `votes`: users a page at a time. */
  rsvps(groupId: string, seq: number, options: { users?: boolean; cursor?: string; limit?: number } = {}) {
    const q = query({ users: options.users === undefined ? undefined : String(options.users), ...answerPage(options) });
    return this.call('GET', `${path`/v1/groups/${groupId}`}/messages/${seq}/rsvps${q}`, 'rsvps');
  }

  /** An announcement's reach (group admins): `{members, delivered, notified, read}`. */
  messageStats(groupId: string, seq: number) {
    return this.call('GET', `${path`/v1/groups/${groupId}`}/messages/${seq}/stats`, 'stats');
  }
  createWebhook(communityId: string, body: Body<'createWebhook'>) {
    return this.call('POST', path`/v1/communities/${communityId}/webhooks`, 'webhookCreated', body);
  }
  webhooks(communityId: string) {
    return this.call('GET', path`/v1/communities/${communityId}/webhooks`, 'webhooks');
  }
  deleteWebhook(communityId: string, webhookId: string) {
    return this.call('DELETE', path`/v1/communities/${communityId}/webhooks/${webhookId}`, undefined);
  }
  webhookDeliveries(communityId: string, webhookId: string) {
    return this.call('GET', path`/v1/communities/${communityId}/webhooks/${webhookId}/deliveries`, 'deliveries');
  }

  /** One request: JSON in, the answer parsed with its schema; failures become BanyanError. */
  async call<K extends ReplyName | undefined>(
    method: string,
    route: string,
    reply: K,
    body?: unknown,
    authed = true,
    raw?: { body: RequestBody; contentType: string },
  ): Promise<K extends ReplyName ? HttpReplies[K] : void> {
    const headers: Record<string, string> = {};
    const token = authed ? await this.token() : undefined;
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (raw) headers['content-type'] = raw.contentType;
    const send = () =>
      this.fetchRaw(
        method,
        new URL(route, this.options.url).toString(),
        headers,
        raw ? raw.body : body !== undefined ? JSON.stringify(body) : undefined,
      );
    let res = await send();
    // A refused access token is refreshed once and the request sent again (a stream body cannot be).
    if (res.status === 401 && token !== undefined && this.tokens && !(raw && isStream(raw.body))) {
      headers.authorization = `Bearer ${await this.tokens.refused(token)}`;
      res = await send();
    }
    if (!res.ok) await this.failure(res);
    const json = parseJson(await res.text());
    if (!reply) return undefined as never;
    const checked = checkReply(reply, json);
    if (!checked.ok) throw new BanyanError('internal', `unexpected answer to ${method} ${route}`, { issues: checked.issues });
    return checked.value as never;
  }

  private async fetchRaw(method: string, url: string, headers: Record<string, string>, body?: RequestBody): Promise<Response> {
    const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    try {
      return await doFetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      throw new BanyanError('unavailable', `could not reach the server (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  /** Turns a failed answer into the BanyanError it carries. */
  private async failure(res: Response): Promise<never> {
    const json = parseJson(await res.text());
    const error = checkErrorBody((json as { error?: unknown } | undefined)?.error);
    if (error) throw new BanyanError(error.code, error.message, error.details, res.status);
    throw new BanyanError(res.status >= 500 ? 'unavailable' : 'bad_request', `HTTP ${res.status}`, undefined, res.status);
  }

  private async token(): Promise<string> {
    if (this.tokens) return this.tokens.current();
    const { token } = this.options;
    if (token === undefined) throw new BanyanError('unauthorized', 'not signed in');
    return typeof token === 'function' ? token() : token;
  }
}

/** A body that is read as it is sent (it cannot be sent twice). */
const isStream = (body: RequestBody) => typeof (body as { getReader?: unknown }).getReader === 'function';

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type { HttpReplies };
