import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { resolveJwtSecret } from './auth/secret.js';
import { Tokens } from './auth/tokens.js';
import type { Bus } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import { RedisBus } from '../bus/redis-bus.js';
import { type Chat, createChat, featureModules } from './features.js';
import type { Config } from './config.js';
import { openStorage, runMigrations, type Storage } from './db/connect.js';
import { eventsAfter } from '../features/messages/queries.js';
import { groupEndsOf } from '../features/sessions/queries.js';
import { Publisher } from '../delivery/publisher.js';
import { Gateway } from '../gateway/gateway.js';
import { RateLimits } from '../gateway/rate-limits.js';
import type { BlobStore } from '../features/attachments/blob-store.js';
import { openBlobStore } from '../features/attachments/open-blob-store.js';
import { SWEEP_INTERVAL_MS, sweepJob } from './jobs/sweeper.js';
import { processLease } from './jobs/job.js';
import { advisoryLease } from './jobs/lease.js';
import { JobRunner } from './jobs/runner.js';
import { EventReminders } from '../features/polls-events/index.js';
import { createLogger, type Logger } from './obs/logger.js';
import { createMetrics, type Metrics } from './obs/metrics.js';
import { timeDatabase } from './obs/db-timing.js';
import { CountedBus } from './obs/bus-metrics.js';
import { outboxBacklog } from '../features/notifications/queries.js';
import { createCommandParser } from '../protocol/commands.js';
import { httpBodies } from '../protocol/http-bodies.js';
import { LocalPresence, type Presence, RedisPresence } from '../features/profiles-presence/presence-store.js';
import { OutboundHttp } from './net/outbound.js';
import { PushSender } from '../features/notifications/push-sender.js';
import { resolveVapidKeys } from '../features/notifications/vapid.js';
import { NotifyWorker } from '../features/notifications/worker.js';

export interface App {
  readonly port: number;
  readonly config: Config;
  readonly tokens: Tokens;
  readonly storage: Storage;
  readonly bus: Bus;
  readonly gateway: Gateway;
  readonly logger: Logger;
  /** The domain (tests call what timers otherwise do, such as the attachment sweep). */
  readonly chat: Chat;
  readonly blobs: BlobStore;
  /** Drains sockets (1001), then closes the bus and storage, in that order. */
  stop(): Promise<void>;
}

/** The composition root: builds every part from Config and starts listening. */
export async function startApp(config: Config): Promise<App> {
  const logger = createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const secret = await resolveJwtSecret(config, logger);
  const tokens = new Tokens({ secret, publicKey: config.JWT_PUBLIC_KEY, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const storageOptions = {
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    readPoolSize: config.DATABASE_READ_POOL_SIZE,
    embeddedFsync: config.EMBEDDED_FSYNC,
  };
  if (!config.DATABASE_URL && !config.EMBEDDED_FSYNC)
    logger.warn('EMBEDDED_FSYNC is off: acknowledged writes survive a killed process but not an OS crash or power loss');
  // PGlite migrates as it opens; PostgreSQL under an advisory lock, so replicas may start together.
  if (config.DATABASE_URL) await runMigrations(storageOptions);
  const storage = await openStorage(storageOptions);
  timeDatabase(storage.db, metrics);
  if (storage.reads !== storage.db) timeDatabase(storage.reads, metrics);
  const bus: Bus = await openOrUnwind([storage], async () =>
    config.REDIS_URL
      ? await RedisBus.connect({
          url: config.REDIS_URL,
          sharded: config.REDIS_SHARDED,
          logger: (level, msg, fields) => logger[level](msg, fields as Record<string, unknown>),
          onReconnect: (connection) => metrics.busReconnects.inc({ connection }),
        })
      : new MemoryBus(),
  ).then((opened) => new CountedBus(opened, metrics));
  metrics.trackOutboxBacklog(() => outboxBacklog(storage.db));
  const blobs = await openOrUnwind([storage, bus], () => openBlobStore(config.STORAGE_URL, config.DATA_DIR));
  const replicaId = randomBytes(8).toString('hex');
  const presence: Presence = await openOrUnwind([storage, bus, blobs], async () =>
    config.REDIS_URL
      ? await RedisPresence.connect({
          url: config.REDIS_URL,
          sharded: config.REDIS_SHARDED,
          replicaId,
          ttlMs: config.PRESENCE_TTL_MS,
          logger,
        })
      : new LocalPresence(),
  );
  const vapid = await resolveVapidKeys(config, storage.db, logger);
  let notifyWorker: NotifyWorker | undefined;
  const limits = { maxTextChars: config.MAX_TEXT_CHARS, maxMembersPerCall: config.MAX_MEMBERS_PER_CALL };
  const chat = createChat(
    {
      db: storage.db,
      reads: storage.reads,
      publisher: new Publisher(bus),
      notificationsOwed: () => notifyWorker?.kick(),
      logger,
      metrics,
      limits: {
        editWindowS: config.EDIT_WINDOW_S,
        syncLimit: config.SYNC_LIMIT,
        maxReplyBytes: config.MAX_REPLY_BYTES,
        readBudgetRowsPerS: config.READ_BUDGET_ROWS_PER_S,
        readBudgetBurstRows: config.READ_BUDGET_BURST_ROWS,
        readBudgetBytesPerS: config.READ_BUDGET_BYTES_PER_S,
        readBudgetBurstBytes: config.READ_BUDGET_BURST_BYTES,
        maxGroupMembers: config.MAX_GROUP_MEMBERS,
        maxCommunityGroups: config.MAX_COMMUNITY_GROUPS,
        tokenTtlS: config.TOKEN_TTL_S,
        scryptLogN: config.SCRYPT_LOG_N,
        defaultGroupAdd: config.DEFAULT_GROUP_ADD,
        tallyIntervalMs: config.TALLY_INTERVAL_MS,
        extraMessageTtls: config.MESSAGE_TTL_ALLOWED,
        eventReminderS: config.EVENT_REMINDER_S,
        searchScanRows: config.SEARCH_SCAN_ROWS,
        notifyAllMaxMembers: config.NOTIFY_ALL_MAX_MEMBERS,
        allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE,
        addAnswerFloorMs: config.ADD_ANSWER_FLOOR_MS,
      },
    },
    tokens,
    {
      blobs,
      stagingDir: join(config.DATA_DIR, 'uploads'),
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
      quotaBytes: config.UPLOAD_QUOTA_BYTES,
      images: { maxPixels: config.IMAGE_MAX_PIXELS, maxPixelsAvif: config.IMAGE_MAX_PIXELS_AVIF, timeoutS: config.IMAGE_TIMEOUT_S },
    },
    { store: presence, settings: { maxMembers: config.PRESENCE_MAX_MEMBERS, coalesceMs: config.PRESENCE_COALESCE_MS } },
  );
  const rateLimits = RateLimits.create(config, logger);
  const gateway = new Gateway({
    chat,
    bus,
    feedStorage: {
      lastSeq: (groupId) => chat.groups.logEnd(groupId),
      lastSeqs: (groupIds) => groupEndsOf(storage.reads, groupIds),
      eventsAfter: (groupId, after, limit) => eventsAfter(storage.db, groupId, after, limit),
    },
    modules: featureModules(chat, {
      bodies: httpBodies(limits),
      limits: rateLimits,
      localAccounts: config.LOCAL_ACCOUNTS,
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
      vapidPublicKey: vapid.publicKey,
    }),
    metrics,
    logger,
    parseCommand: createCommandParser(limits),
    verifyToken: (token) => tokens.verify(token),
    verifyTokenNow: (token) => tokens.verifyNow(token),
    pingStorage: () => storage.ping(),
    limits: rateLimits,
    presence,
    settings: {
      host: config.HOST,
      port: config.PORT,
      // Set by src/workers.ts for each of WORKERS processes sharing one port.
      sharePort: process.env.BANYAN_WORKER !== undefined,
      localAccounts: config.LOCAL_ACCOUNTS,
      maxFrameBytes: config.MAX_FRAME_BYTES,
      maxBodyBytes: config.MAX_BODY_BYTES,
      authTimeoutMs: config.AUTH_TIMEOUT_MS,
      rateLimitPerS: config.RATE_LIMIT_PER_S,
      rateLimitBurst: config.RATE_LIMIT_BURST,
      slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
      drainTimeoutMs: config.DRAIN_TIMEOUT_MS,
      drainNoticeMs: config.DRAIN_NOTICE_MS,
      feedCheckMs: config.FEED_CHECK_MS,
      feedLingerMs: config.FEED_LINGER_MS,
      trustProxy: config.TRUST_PROXY,
      metricsToken: config.METRICS_TOKEN,
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
    },
  });
  const pushSender = new PushSender(vapid, {
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: config.PUSH_TIMEOUT_MS,
    breakerMs: config.WEBHOOK_BREAKER_MS,
  });
  // Webhooks' name lookups two at a time: libuv's pool has four threads, and pushes, files and
  // password hashing need them too (a name whose DNS never answers would hold one per request).
  const webhookHttp = new OutboundHttp({
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: config.PUSH_TIMEOUT_MS,
    // The dispatcher bounds requests per endpoint; the agent must never queue one (no timeout runs while queued).
    maxSockets: config.WEBHOOK_CONCURRENCY,
    maxLookups: 2,
  });
  // How often idle notification work looks for rows another replica stored (or left when it died).
  const notifyPollMs = Math.min(1000, config.NOTIFY_LEASE_MS);
  notifyWorker = new NotifyWorker({
    db: storage.db,
    presence,
    sender: pushSender,
    webhookHttp,
    onReachChanged: (groupId, seq) => chat.reach.changed(groupId, seq),
    logger,
    metrics,
    settings: {
      coalesceMs: config.PUSH_COALESCE_MS,
      leaseMs: config.NOTIFY_LEASE_MS,
      notifyAllMaxMembers: config.NOTIFY_ALL_MAX_MEMBERS,
      pollMs: notifyPollMs,
      webhookRetryMs: config.WEBHOOK_RETRY_S * 1000,
      webhookLimits: {
        total: config.WEBHOOK_CONCURRENCY,
        perCommunity: config.WEBHOOK_COMMUNITY_CONCURRENCY,
        perEndpoint: config.WEBHOOK_ENDPOINT_CONCURRENCY,
      },
      webhookBreakerMs: config.WEBHOOK_BREAKER_MS,
    },
  });
  const jobs = createJobs({ config, storage, logger, metrics, chat, presence, worker: notifyWorker, notifyPollMs });
  const port = await gateway.listen();
  jobs.start();
  logger.info('banyan listening', { host: config.HOST, port, storage: storage.kind, bus: bus.kind, files: blobs.kind });

  // What stop() closes after the jobs, in opening order.
  const parts: { close(): unknown }[] = [storage, bus, blobs, presence, rateLimits, pushSender, webhookHttp];

  let stopping: Promise<void> | undefined;
  return {
    port,
    config,
    tokens,
    storage,
    bus,
    gateway,
    logger,
    chat,
    blobs,
    stop: () =>
      (stopping ??= (async () => {
        // Sockets first: no command starts work (or owes a notification) after this.
        await gateway.drain();
        // Then every job, last registered first, each after its run in progress: their last
        // writes, pushes and frames go out while storage, the bus and the HTTP agents are open.
        await jobs.stop();
        // Then the parts, last opened first (storage last: everything above writes to it).
        for (const part of [...parts].reverse()) await part.close();
      })()),
  };
}

/**
 * The background jobs, in start order; they stop in the reverse. So: the domain's frames
 * (presence, reach) outlive the notification jobs that feed them; the push loops outlive
 * fan-out and reminders, which owe them pushes; the sweeps stop first.
 */
function createJobs(parts: {
  config: Config;
  storage: Storage;
  logger: Logger;
  metrics: Metrics;
  chat: Chat;
  presence: Presence;
  worker: NotifyWorker;
  notifyPollMs: number;
}): JobRunner {
  const { config, storage, logger, metrics, chat, presence, worker, notifyPollMs } = parts;
  const lease = storage.kind === 'postgres' ? advisoryLease(storage.db) : processLease;
  const reminders = new EventReminders({
    db: storage.db,
    logger,
    leaseMs: config.NOTIFY_LEASE_MS,
    pollMs: notifyPollMs,
    coalesceMs: config.PUSH_COALESCE_MS,
    pushesOwed: () => worker.pushesOwed(),
  });
  return new JobRunner({ logger, metrics }).add(
    ...presence.jobs(),
    ...chat.jobs(),
    ...worker.jobs(lease),
    reminders.job(),
    sweepJob({
      name: 'messages.expiry',
      everyMs: config.EXPIRY_SWEEP_MS,
      what: 'expired messages',
      logger,
      // Expired messages' files go in the same pass, not a minute later with the attachment sweep.
      sweep: async () => {
        const swept = await chat.expiry.sweep(config.EXPIRY_SWEEP_BATCH);
        if (swept.filesDue > 0) await chat.attachments.sweep();
        return swept.erased;
      },
    }),
    sweepJob({
      name: 'attachments.sweep',
      everyMs: SWEEP_INTERVAL_MS,
      jitterMs: SWEEP_INTERVAL_MS / 10,
      what: 'attachments',
      logger,
      sweep: () => chat.attachments.sweep(),
    }),
  );
}

/** Opens one part of the server; if that fails, closes the parts opened before it (last first) and rethrows. */
async function openOrUnwind<T>(opened: { close(): unknown }[], open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    for (const part of [...opened].reverse()) await part.close();
    throw err;
  }
}
