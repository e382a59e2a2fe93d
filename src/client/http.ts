import type { z } from 'zod';
import type { HttpBodies } from '../protocol/http-bodies.js';
import { httpReplies, type HttpReplies } from '../protocol/http-replies.js';
import { errorBodySchema } from '../protocol/server-frames.js';
import { BanyanError } from './errors.js';

// The HTTP API of PROTOCOL.md §3 and §5 over the global fetch (browsers, Node 20).

export type Fetch = typeof globalThis.fetch;

export interface HttpOptions {
  /** The server's base URL, e.g. `http://localhost:8080` (a page can use its own origin). */
  url: string;
  /** The bearer token, or a function giving the current one. */
  token?: string | (() => string | Promise<string>) | undefined;
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

export class BanyanHttp {
  constructor(private readonly options: HttpOptions) {}

  // Accounts and sessions (§3)
  signUp(body: Body<'signUp'>) {
    return this.call('POST', '/v1/accounts', httpReplies.signedIn, body, false);
  }
  signIn(body: Body<'signIn'>) {
    return this.call('POST', '/v1/sessions', httpReplies.signedIn, body, false);
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

  // Groups (§5)
  me() {
    return this.call('GET', '/v1/me', httpReplies.me);
  }
  createGroup(body: Body<'createGroup'>) {
    return this.call('POST', '/v1/groups', httpReplies.group, body);
  }
  group(groupId: string) {
    return this.call('GET', path`/v1/groups/${groupId}`, httpReplies.groupDetail);
  }
  members(groupId: string, cursor?: string) {
    return this.call(
      'GET',
      path`/v1/groups/${groupId}/members` + (cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''),
      httpReplies.members,
    );
  }
  addMember(groupId: string, userId: string, role?: Body<'addMember'>['role']) {
    return this.call('POST', path`/v1/groups/${groupId}/members`, undefined, { userId, ...(role ? { role } : {}) });
  }
  leaveGroup(groupId: string, userId: string) {
    return this.call('DELETE', path`/v1/groups/${groupId}/members/${userId}`, undefined);
  }
  receipts(groupId: string, seq: number) {
    return this.call('GET', path`/v1/groups/${groupId}/messages/${String(seq)}/receipts`, httpReplies.receipts);
  }

  // Communities (§5)
  createCommunity(body: Body<'createCommunity'>) {
    return this.call('POST', '/v1/communities', httpReplies.community, body);
  }
  community(communityId: string) {
    return this.call('GET', path`/v1/communities/${communityId}`, httpReplies.communityDetail);
  }
  /** The community's groups after the first page that `community()` gives. */
  communityGroups(communityId: string, cursor: string) {
    return this.call(
      'GET',
      `${path`/v1/communities/${communityId}/groups`}?cursor=${encodeURIComponent(cursor)}`,
      httpReplies.communityGroups,
    );
  }
  createCommunityGroup(communityId: string, body: Body<'createCommunityGroup'>) {
    return this.call('POST', path`/v1/communities/${communityId}/groups`, httpReplies.group, body);
  }
  joinCommunityGroup(communityId: string, groupId: string) {
    return this.call('POST', path`/v1/communities/${communityId}/groups/${groupId}/join`, undefined);
  }
  createInvite(communityId: string, body: Body<'createInvite'> = {}) {
    return this.call('POST', path`/v1/communities/${communityId}/invites`, httpReplies.invite, body);
  }
  joinByInvite(code: string) {
    return this.call('POST', path`/v1/invites/${code}/join`, httpReplies.joined);
  }
  announce(communityId: string, body: Body<'announce'>) {
    return this.call('POST', path`/v1/communities/${communityId}/announcements`, httpReplies.posted, body);
  }

  // Notifications (v1.1 §7)
  /** Your notification level in a group (`all`, `mentions`, `none`), muted until `muteUntil` when given. */
  setNotifications(groupId: string, body: Body<'notificationPreference'>) {
    return this.call('PUT', path`/v1/groups/${groupId}/notifications`, undefined, body);
  }
  /** The application server key for `PushManager.subscribe({applicationServerKey})`. */
  vapidKey() {
    return this.call('GET', '/v1/push/vapid-key', httpReplies.vapidKey, undefined, false);
  }
  /** Registers a browser's push subscription (`PushSubscription.toJSON()`); answers its id. */
  subscribePush(subscription: PushSubscriptionLike) {
    const body = { endpoint: subscription.endpoint, keys: { p256dh: subscription.keys.p256dh, auth: subscription.keys.auth } };
    return this.call('POST', '/v1/push/subscriptions', httpReplies.created, body);
  }
  unsubscribePush(id: string) {
    return this.call('DELETE', path`/v1/push/subscriptions/${id}`, undefined);
  }
  /** An announcement's reach (group admins): `{members, delivered, notified, read}`. */
  messageStats(groupId: string, seq: number) {
    return this.call('GET', `${path`/v1/groups/${groupId}`}/messages/${seq}/stats`, httpReplies.stats);
  }
  createWebhook(communityId: string, body: Body<'createWebhook'>) {
    return this.call('POST', path`/v1/communities/${communityId}/webhooks`, httpReplies.webhookCreated, body);
  }
  webhooks(communityId: string) {
    return this.call('GET', path`/v1/communities/${communityId}/webhooks`, httpReplies.webhooks);
  }
  deleteWebhook(communityId: string, webhookId: string) {
    return this.call('DELETE', path`/v1/communities/${communityId}/webhooks/${webhookId}`, undefined);
  }
  webhookDeliveries(communityId: string, webhookId: string) {
    return this.call('GET', path`/v1/communities/${communityId}/webhooks/${webhookId}/deliveries`, httpReplies.deliveries);
  }

  /** One request: JSON in, the answer parsed with its schema; failures become BanyanError. */
  async call<S extends z.ZodType | undefined>(
    method: string,
    route: string,
    schema: S,
    body?: unknown,
    authed = true,
  ): Promise<S extends z.ZodType ? z.infer<S> : void> {
    const headers: Record<string, string> = {};
    if (authed) headers.authorization = `Bearer ${await this.token()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    let res: Response;
    try {
      res = await doFetch(new URL(route, this.options.url).toString(), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new BanyanError('unavailable', `could not reach the server (${err instanceof Error ? err.message : String(err)})`);
    }
    const text = await res.text();
    const json = parseJson(text);
    if (!res.ok) {
      const error = errorBodySchema.safeParse((json as { error?: unknown } | undefined)?.error);
      if (error.success) throw new BanyanError(error.data.code, error.data.message, error.data.details, res.status);
      throw new BanyanError(res.status >= 500 ? 'unavailable' : 'bad_request', `HTTP ${res.status}`, undefined, res.status);
    }
    if (!schema) return undefined as never;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new BanyanError('internal', `unexpected answer to ${method} ${route}`, { issues: parsed.error.issues });
    return parsed.data as never;
  }

  private async token(): Promise<string> {
    const { token } = this.options;
    if (token === undefined) throw new BanyanError('unauthorized', 'not signed in');
    return typeof token === 'function' ? token() : token;
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type { HttpReplies };
