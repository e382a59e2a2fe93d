import { randomBytes } from 'node:crypto';
import { findCommunityStanding } from '../communities/index.js';
import { countWebhooks, deleteWebhook, findWebhook, insertWebhook, listWebhooks, recentDeliveries, type WebhookRow } from './queries.js';
import { newId } from '../../platform/ids.js';
import { conflict, notFound } from '../../protocol/errors.js';
import { REFUSED_TARGET } from '../../platform/net/address-guard.js';
import { requireCommunityAdmin } from '../../platform/policy/index.js';
import type { ChatDeps } from '../../platform/deps.js';

/** The event types a webhook may subscribe to (docs/protocol.md §8). */
const WEBHOOK_EVENTS = ['announcement', 'message', 'mention', 'join_request', 'report', 'member'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Each webhook costs a request per event: a community keeps a bounded number. */
const MAX_WEBHOOKS_PER_COMMUNITY = 20;
const DELIVERY_LOG_LIMIT = 100;

/**
 * Errors recorded before refused targets all got REFUSED_TARGET (they said whether an internal
 * name resolved): shown as it, so the log never tells (docs/protocol.md §8).
 */
const OLD_REFUSED = /resolves only to private addresses$|^getaddrinfo (ENOTFOUND|ENODATA) |^[a-z+.-]+: not allowed$/;
const shownError = (error: string | null) => (error && OLD_REFUSED.test(error) ? REFUSED_TARGET : error);

const view = (w: WebhookRow) => ({ id: w.id, url: w.url, events: w.events, createdAt: w.createdAt.toISOString() });

/** A community's signed webhooks (Standard Webhooks), managed by its admins. */
export class Webhooks {
  constructor(
    private readonly deps: ChatDeps,
    /** Checks a target URL (https, not a private address unless allowed); throws bad_request. */
    private readonly checkUrl: (url: string) => void,
  ) {}

  async create(userId: string, communityId: string, input: { url: string; events: WebhookEvent[] }) {
    await this.requireAdmin(communityId, userId);
    this.checkUrl(input.url);
    if ((await countWebhooks(this.deps.db, communityId)) >= MAX_WEBHOOKS_PER_COMMUNITY)
      throw conflict(`a community has at most ${MAX_WEBHOOKS_PER_COMMUNITY} webhooks`);
    // Standard Webhooks' secret form: whsec_ and the base64 of a 24-byte key.
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const row = await insertWebhook(this.deps.db, {
      id: newId('w'),
      communityId,
      url: input.url,
      events: [...new Set(input.events)],
      secret,
      createdBy: userId,
    });
    return { ...view(row), secret };
  }

  async list(userId: string, communityId: string) {
    await this.requireAdmin(communityId, userId);
    return (await listWebhooks(this.deps.db, communityId)).map(view);
  }

  async get(userId: string, communityId: string, id: string) {
    await this.requireAdmin(communityId, userId);
    const row = await findWebhook(this.deps.db, communityId, id);
    if (!row) throw notFound('webhook');
    return view(row);
  }

  async delete(userId: string, communityId: string, id: string) {
    await this.requireAdmin(communityId, userId);
    if (!(await deleteWebhook(this.deps.db, communityId, id))) throw notFound('webhook');
  }

  async deliveries(userId: string, communityId: string, id: string) {
    await this.get(userId, communityId, id);
    const rows = await recentDeliveries(this.deps.db, id, DELIVERY_LOG_LIMIT);
    return rows.map((d) => ({
      id: d.id,
      event: d.event,
      status: d.status,
      attempts: d.attempts,
      lastStatus: d.lastStatus,
      lastError: shownError(d.lastError),
      createdAt: d.createdAt.toISOString(),
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
      nextAttemptAt: d.status === 'pending' ? d.nextAt.toISOString() : null,
    }));
  }

  private async requireAdmin(communityId: string, userId: string) {
    requireCommunityAdmin(await findCommunityStanding(this.deps.db, communityId, userId));
  }
}
