import { randomBytes } from 'node:crypto';
import type { Db } from '../../platform/db/connect.js';
import { defaultNotifyLevel } from '../../platform/policy/index.js';
import {
  type ClaimedPush,
  claimOutbox,
  claimPushes,
  dropNothingOwed,
  memberIdsExcept,
  deletePushSubscriptionById,
  fanOutPushes,
  nextPushDue,
  notificationSource,
  prunePushQueue,
  pushCandidates,
  settlePushes,
  subscriptionsOf,
} from './queries.js';
import type { PushSubscriptionRow } from '../../platform/db/schema.js';
import { webhooksFor } from '../webhooks/index.js';
import { newWebhookMessageId } from '../../platform/ids.js';
import type { WebhookEvent } from '../webhooks/index.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { Logger } from '../../platform/obs/logger.js';
import { attachmentsLine, buildPayload, coalescedPayload, contentLine, encodePayload } from './payload.js';
import { type Job, type JobLease, type JobNext, JobTrigger } from '../../platform/jobs/job.js';
import type { Presence } from '../profiles-presence/index.js';
import { type PushResult, type PushSender, topicOf } from './push-sender.js';
import { BREAKER_FAILURES, BREAKER_MAX_OPEN_MS, WebhookDispatcher } from '../webhooks/index.js';
import type { Clock } from '../webhooks/index.js';
import type { Metrics } from '../../platform/obs/metrics.js';
import type { Config } from '../../platform/config.js';

/** The sections of Config the worker reads. */
export type NotifyWorkerConfig = Pick<Config, 'notifications' | 'webhooks' | 'outbound'>;

interface NotifyWorkerSettings {
  coalesceMs: number;
  leaseMs: number;
  notifyAllMaxMembers: number;
  /** How often an idle worker looks for work another replica owes (or left behind when it died). */
  pollMs: number;
}

const OUTBOX_BATCH = 50;
const PUSH_BATCH = 100;
const PUSH_LOOPS = 3;
/** How long a batch waits for its pushes before it settles those done and claims more. */
const PUSH_BATCH_WAIT_MS = 2000;
/** Batches whose late pushes may be in flight at once, per replica. */
const MAX_STRAGGLING_BATCHES = 20;
const PUSH_TTL_S = 24 * 3600;
/** Backoff doubles from 1 s up to 5 min; after this many attempts (about 2 h) a push is dropped. */
const MAX_PUSH_ATTEMPTS = 30;
const MAX_BACKOFF_MS = 5 * 60_000;
const MAX_RETRY_AFTER_MS = 3600_000;
const PRUNE_EVERY_MS = 60_000;

/**
 * After a batch smaller than full, a loop waits this long (kicks do not cut it short) so the next
 * one gathers more: under a steady stream of messages each claim takes tens of rows, not one per
 * commit (on PGlite every claim is a write on the event loop's thread: claiming per commit cut
 * embedded sends from ~650/s to ~110/s). Notifications wait at most this much longer.
 */
const GATHER_MS = 100;

/** After a batch of `done` rows: at once when it was full (more wait), else a short gathering wait. */
const afterBatch = (done: number, full: number): JobNext => (done >= full ? { inMs: 0 } : { inMs: GATHER_MS, gather: true });

export const backoffMs = (attempts: number, retryAfterMs?: number): number => {
  const exp = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts, 20));
  const jittered = exp * (0.8 + Math.random() * 0.4);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
};

/** A device's answer as the pushes metric counts it: retried ones are sent again later, failed ones never. */
const pushOutcomeLabel = { accepted: 'sent', retry: 'retried', rejected: 'failed', gone: 'failed' } as const;

/** What a push's attempt leaves to store. */
type PushOutcome =
  | { push: ClaimedPush; kind: 'sent'; countsAsNotified: boolean }
  | { push: ClaimedPush; kind: 'dropped' }
  | { push: ClaimedPush; kind: 'retry'; partlyNotified: boolean; subscriptions: string[] | null; dueAt: Date };

/**
 * The notification worker of one replica (every replica runs one): two kinds of queued jobs over storage (jobs()).
 * Fan-out claims owed messages from notify_outbox (a lease, FOR UPDATE SKIP LOCKED), works out
 * who is owed a push and moves them into push_queue, deleting the outbox row in the same
 * transaction. Push claims due rows of push_queue, sends them and settles them. Either claim,
 * left by a replica that died, is taken over when its lease runs out: every owed push is sent at
 * least once; only pushes in flight at the death are sent twice.
 */
export class NotifyWorker {
  private readonly token = randomBytes(8).toString('hex');
  private readonly fanOutTrigger = new JobTrigger();
  /** Several push loops, so one's database round trips overlap another's requests (SKIP LOCKED keeps their rows apart). */
  private readonly pushTriggers = Array.from({ length: PUSH_LOOPS }, () => new JobTrigger());
  /** Webhooks in a lane of their own: their requests never hold up a push loop. */
  private readonly webhooks: WebhookDispatcher;
  /** Settlements of pushes still in flight when their batch settled. */
  private readonly stragglers = new Set<Promise<void>>();
  private readonly settings: NotifyWorkerSettings;

  constructor(
    private readonly deps: {
      db: Db;
      presence: Presence;
      sender: PushSender;
      webhookHttp: OutboundHttp;
      /** An announcement's reach counters changed (live `stats` frames). */
      onReachChanged?: (groupId: string, seq: number) => void;
      logger: Logger;
      /** Pushes and webhook deliveries by outcome. */
      metrics?: Pick<Metrics, 'pushes' | 'webhookDeliveries'>;
      config: NotifyWorkerConfig;
      /** Time for the webhook breakers (tests step it). */
      clock?: Clock;
    },
  ) {
    const { notifications, webhooks, outbound } = deps.config;
    this.settings = {
      coalesceMs: notifications.coalesceMs,
      leaseMs: notifications.leaseMs,
      notifyAllMaxMembers: notifications.allMaxMembers,
      pollMs: Math.min(1000, notifications.leaseMs),
    };
    const settings = this.settings;
    this.webhooks = new WebhookDispatcher({
      db: deps.db,
      http: deps.webhookHttp,
      token: this.token,
      logger: deps.logger,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      backoffMs,
      ...(deps.clock ? { clock: deps.clock } : {}),
      settings: {
        leaseMs: settings.leaseMs,
        pollMs: settings.pollMs,
        retryMs: webhooks.retryS * 1000,
        limits: webhooks.concurrency,
        breaker: { failureThreshold: BREAKER_FAILURES, openMs: outbound.breakerMs, maxOpenMs: BREAKER_MAX_OPEN_MS },
      },
    });
  }

  /**
   * The worker's jobs, all queued (kicked when work is stored here, else polling for work another
   * replica stored or left when it died): fan-out, the push loops and webhook deliveries; and the
   * push queue's and delivery log's pruning (periodic, one replica at a time under `lease`).
   */
  jobs(lease: JobLease): Job[] {
    const { pollMs, coalesceMs } = this.settings;
    const [deliver, pruneDeliveries] = this.webhooks.jobs(lease);
    return [
      {
        name: 'notifications.fan-out',
        kind: 'queued',
        everyMs: pollMs,
        trigger: this.fanOutTrigger,
        run: async () => {
          const done = await this.fanOutBatch();
          return done === 0 ? { inMs: pollMs } : afterBatch(done, OUTBOX_BATCH);
        },
      },
      ...this.pushTriggers.map(
        (trigger, i): Job => ({
          name: `notifications.push-${i + 1}`,
          kind: 'queued',
          everyMs: pollMs,
          trigger,
          run: async () => {
            const done = await this.pushBatch();
            return done === 0 ? { inMs: await this.untilDue(nextPushDue(this.deps.db)) } : afterBatch(done, PUSH_BATCH);
          },
          // The last push loop stops first: the batches still settling pushes are awaited once.
          ...(i === PUSH_LOOPS - 1 ? { stop: () => Promise.all(this.stragglers).then(() => undefined) } : {}),
        }),
      ),
      deliver!,
      {
        name: 'notifications.prune',
        kind: 'periodic',
        everyMs: PRUNE_EVERY_MS,
        jitterMs: PRUNE_EVERY_MS / 10,
        lease,
        run: () => prunePushQueue(this.deps.db, coalesceMs),
      },
      pruneDeliveries!,
    ];
  }

  /** Messages were stored here: fan them out now rather than at the next poll. */
  kick(): void {
    this.fanOutTrigger.kick();
  }

  /** Pushes were owed (an event reminder fired): the push loops claim now rather than at their next poll. */
  pushesOwed(): void {
    for (const trigger of this.pushTriggers) trigger.kick();
  }

  /** Until the next due time, at most the poll interval (work another replica stores is seen then). */
  private async untilDue(next: Promise<Date | undefined>): Promise<number> {
    const due = await next;
    const { pollMs } = this.settings;
    if (!due) return pollMs;
    return Math.max(5, Math.min(pollMs, due.getTime() - Date.now()));
  }

  /** Fans out up to a batch of owed messages; returns how many. */
  async fanOutBatch(): Promise<number> {
    const { db } = this.deps;
    const settings = this.settings;
    const claimed = await claimOutbox(db, this.token, settings.leaseMs, OUTBOX_BATCH);
    const owed = { pushes: 0, deliveries: 0 };
    for (const { groupId, seq } of await dropNothingOwed(db, this.token, claimed)) {
      const { pushes, deliveries } = await this.fanOut(groupId, seq);
      owed.pushes += pushes;
      owed.deliveries += deliveries;
    }
    // The loops wake only for work queued here: a message whose members are all connected owes
    // no push, one in a community without webhooks no delivery, and waking the loops for it cost
    // two statements each per message.
    if (owed.pushes > 0) this.pushesOwed();
    if (owed.deliveries > 0) this.webhooks.kick();
    return claimed.length;
  }

  /** Owes the message's pushes and webhook deliveries; returns how many of each it owed. */
  private async fanOut(groupId: string, seq: number): Promise<{ pushes: number; deliveries: number }> {
    const { db, presence } = this.deps;
    const settings = this.settings;
    const found = await notificationSource(db, groupId, seq);
    // A message of files, a poll or an event alone says what it carries ("📎 leaflet.pdf"), not nothing.
    const source = found && { ...found, text: found.text || attachmentsLine(found.data) || contentLine(found.data) };
    const base = { groupId, seq, token: this.token, coalesceMs: settings.coalesceMs };
    if (source?.kind !== 'message' || source.deleted) {
      await fanOutPushes(db, { ...base, batches: [] });
      return { pushes: 0, deliveries: 0 };
    }
    const defaultLevel = defaultNotifyLevel(source.groupKind, source.memberCount, settings.notifyAllMaxMembers);
    const mentions = ((source.data?.mentions as string[] | undefined) ?? []).filter((m) => typeof m === 'string');
    const candidates = await pushCandidates(db, { groupId, senderId: source.senderId, mentions, defaultLevel });
    const connected = candidates.length > 0 ? await presence.connectedAmong(candidates) : new Set<string>();
    const mentioned = new Set(mentions);
    const plain: string[] = [];
    const named: string[] = [];
    for (const user of candidates) {
      if (connected.has(user)) continue;
      (mentioned.has(user) ? named : plain).push(user);
    }
    const urgent = source.groupKind !== 'group';
    const batches = [
      { userIds: plain, urgent, payload: buildPayload(groupId, seq, source, false) },
      { userIds: named, urgent: true, payload: buildPayload(groupId, seq, source, true) },
    ].filter((b) => b.userIds.length > 0);
    const announcement = source.groupKind === 'announcement';
    const deliveries = await this.webhookDeliveries(groupId, seq, source, mentions);
    const fannedOut = await fanOutPushes(db, {
      ...base,
      batches,
      deliveries,
      ...(announcement ? { stats: { members: source.memberCount, delivered: await this.connectedMembers(groupId, source.senderId) } } : {}),
    });
    if (fannedOut && announcement) this.deps.onReachChanged?.(groupId, seq);
    return fannedOut ? { pushes: plain.length + named.length, deliveries: deliveries.length } : { pushes: 0, deliveries: 0 };
  }

  /**
   * Members with a live socket now, the sender aside: the announcement reaches their sockets
   * (delivery is gapless), so they are its `delivered`. Members who connect later get it by
   * sync and are counted by `read` once they read it.
   */
  private async connectedMembers(groupId: string, senderId: string): Promise<number> {
    const ids = await memberIdsExcept(this.deps.db, groupId, senderId);
    return ids.length === 0 ? 0 : (await this.deps.presence.connectedAmong(ids)).size;
  }

  /** One delivery per webhook of the group's community that wants this message, as its most specific type. */
  private async webhookDeliveries(
    groupId: string,
    seq: number,
    source: NonNullable<Awaited<ReturnType<typeof notificationSource>>>,
    mentions: string[],
  ) {
    if (!source.communityId || source.groupKind === 'direct') return [];
    const types: WebhookEvent[] = source.groupKind === 'announcement' ? ['announcement'] : ['message'];
    if (mentions.length > 0) types.unshift('mention');
    const hooks = await webhooksFor(this.deps.db, source.communityId, types);
    if (hooks.length === 0) return [];
    const data = {
      community: source.communityId,
      group: groupId,
      groupName: source.groupName,
      seq,
      sender: { id: source.senderId, name: source.senderName ?? source.senderId },
      text: source.text,
      mentions,
      ts: source.ts.toISOString(),
    };
    return hooks.map((hook) => {
      const event = types.find((t) => hook.events.includes(t))!;
      const nextAt = this.webhooks.pausedUntil(hook.url);
      const payload = { type: event, timestamp: new Date().toISOString(), data };
      return { id: newWebhookMessageId(), webhookId: hook.id, event, payload, ...(nextAt ? { nextAt } : {}) };
    });
  }

  /** Sends up to a batch of due pushes; returns how many. */
  async pushBatch(): Promise<number> {
    const { db } = this.deps;
    const settings = this.settings;
    const claimed = await claimPushes(db, this.token, settings.leaseMs, PUSH_BATCH);
    if (claimed.length === 0) return 0;
    const subscriptions = new Map<string, PushSubscriptionRow[]>();
    for (const s of await subscriptionsOf(db, [...new Set(claimed.map((c) => c.userId))])) {
      const list = subscriptions.get(s.userId);
      if (list) list.push(s);
      else subscriptions.set(s.userId, [s]);
    }
    // Each push settles with the batch when it is done within PUSH_BATCH_WAIT_MS; one still in
    // flight then (an endpoint that does not answer) settles on its own when it is, under its
    // lease: a push service that stalls holds neither this loop nor the other pushes of its batch.
    const results: (PushOutcome | undefined)[] = new Array(claimed.length);
    const all = Promise.all(claimed.map((push, i) => this.pushOne(push, subscriptions).then((o) => (results[i] = o))));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, PUSH_BATCH_WAIT_MS)))]);
    clearTimeout(timer);
    const ready = results.filter((o) => o !== undefined);
    await this.settle(ready);
    if (ready.length < claimed.length) {
      const pending = new Set(claimed.filter((_, i) => results[i] === undefined));
      const straggling = all
        .then(() => this.settle(results.filter((o): o is PushOutcome => o !== undefined && pending.has(o.push))))
        .catch((err) => this.deps.logger.warn('settling late pushes failed; their lease hands them on', { err }))
        .finally(() => this.stragglers.delete(straggling));
      this.stragglers.add(straggling);
      // Bounded: with this many batches straggling, wait for one before claiming more.
      if (this.stragglers.size >= MAX_STRAGGLING_BATCHES) await Promise.race(this.stragglers);
    }
    return claimed.length;
  }

  /** Sends one push to each of its user's devices that it owes; what to store of it. */
  private async pushOne(push: ClaimedPush, subscriptions: Map<string, PushSubscriptionRow[]>): Promise<PushOutcome> {
    const all = subscriptions.get(push.userId) ?? [];
    const owed = push.retrySubscriptions ? all.filter((s) => push.retrySubscriptions!.includes(s.id)) : all;
    if (owed.length === 0) return { push, kind: 'dropped' };
    const payload = encodePayload(push.count > 1 ? coalescedPayload(push.payload, push.count) : push.payload);
    const results = await Promise.all(owed.map((s) => this.sendOne(s, payload, push)));
    const failed: string[] = [];
    let retryAfterMs: number | undefined;
    let accepted = 0;
    results.forEach((r, i) => {
      if (r.outcome === 'accepted') accepted++;
      else if (r.outcome === 'retry') {
        failed.push(owed[i]!.id);
        if (r.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, r.retryAfterMs);
      }
    });
    const firstTry = push.retrySubscriptions === null;
    if (failed.length === 0) return { push, kind: 'sent', countsAsNotified: firstTry && accepted > 0 };
    if (push.attempts + 1 >= MAX_PUSH_ATTEMPTS) {
      this.deps.logger.warn('push dropped after its last attempt', { groupId: push.groupId, attempts: push.attempts + 1 });
      return { push, kind: 'dropped' };
    }
    // All failed: retry them all (retrySubscriptions stays null, so success still counts as notified once).
    const partial = accepted > 0 || failed.length < owed.length;
    return {
      push,
      kind: 'retry',
      partlyNotified: partial && firstTry && accepted > 0,
      subscriptions: partial || !firstTry ? failed : null,
      dueAt: new Date(Date.now() + backoffMs(push.attempts, retryAfterMs)),
    };
  }

  private async settle(done: PushOutcome[]): Promise<void> {
    if (done.length === 0) return;
    const outcomes = {
      sent: [] as { push: ClaimedPush; countsAsNotified: boolean }[],
      retry: [] as { push: ClaimedPush; subscriptions: string[] | null; dueAt: Date }[],
      dropped: [] as ClaimedPush[],
    };
    const partlyNotified: ClaimedPush[] = [];
    for (const o of done) {
      if (o.kind === 'sent') outcomes.sent.push({ push: o.push, countsAsNotified: o.countsAsNotified });
      else if (o.kind === 'dropped') outcomes.dropped.push(o.push);
      else {
        outcomes.retry.push({ push: o.push, subscriptions: o.subscriptions, dueAt: o.dueAt });
        if (o.partlyNotified) partlyNotified.push(o.push);
      }
    }
    const notified = await settlePushes(this.deps.db, this.token, this.settings.coalesceMs, outcomes, partlyNotified);
    for (const n of notified) this.deps.onReachChanged?.(n.g, n.s);
  }

  private async sendOne(subscription: PushSubscriptionRow, payload: string, push: ClaimedPush): Promise<PushResult> {
    const result = await this.deps.sender.send(subscription, payload, {
      topic: topicOf(push.groupId),
      urgent: push.urgent,
      ttlS: PUSH_TTL_S,
    });
    this.deps.metrics?.pushes.inc({ outcome: pushOutcomeLabel[result.outcome] });
    if (result.outcome === 'gone') {
      await deletePushSubscriptionById(this.deps.db, subscription.id);
    } else if (result.outcome === 'rejected') {
      this.deps.logger.warn('push service rejected a push', { status: result.status });
    }
    return result;
  }
}
