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
import { assertFilesReachEveryReplica, openBlobStore } from '../features/attachments/open-blob-store.js';
import { openBackupSocket } from './backup/commands.js';
import { SWEEP_INTERVAL_MS, sweepJob } from './jobs/sweeper.js';
import { processLease } from './jobs/job.js';
import { advisoryLease } from './jobs/lease.js';
import { JobRunner } from './jobs/runner.js';
import { EventReminders } from '../features/polls-events/index.js';
import { createLogger, type Logger } from './obs/logger.js';
import { createMetrics, type Metrics } from './obs/metrics.js';
import { timeDatabase } from './obs/db-timing.js';
import { CountedBus } from './obs/bus-metrics.js';
import { startTracing, type Tracing } from './obs/tracing.js';
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

/** How this process runs beside others (the command line's, not the environment's). */
export interface StartOptions {
  /** Set for each of WORKERS processes sharing one port (platform/workers.ts): its index. */
  worker?: number;
}

/** What startApp opens before the domain, in opening order (stop() closes them in the reverse). */
interface OpenedParts {
  storage: Storage;
  bus: Bus;
  blobs: BlobStore;
  presence: Presence;
}

/** The composition root: builds every part from Config, each from its section, and starts listening. */
export async function startApp(config: Config, options: StartOptions = {}): Promise<App> {
  assertFilesReachEveryReplica({
    redisUrl: config.redis.url,
    storageUrl: config.files.storageUrl,
    storageShared: config.files.storageShared,
    sameMachineWorker: options.worker !== undefined,
  });
  const logger = createLogger(config.server.logLevel);
  const metrics = createMetrics();
  const tracing = await startTracing(config.tracing, logger);
  const secret = await resolveJwtSecret(config, logger);
  const tokens = new Tokens({ ...config.auth, secret });
  const { storage, bus, blobs, presence } = await openParts(config, logger, metrics, tracing);
  const vapid = await resolveVapidKeys(config, storage.db, logger);
  let notifyWorker: NotifyWorker | undefined;
  const chat = createChat(
    {
      db: storage.db,
      reads: storage.reads,
      publisher: new Publisher(bus, tracing),
      notificationsOwed: () => notifyWorker?.kick(),
      logger,
      metrics,
      tracing,
      config,
    },
    tokens,
    { ...config.files, blobs, stagingDir: join(config.storage.dataDir, 'uploads') },
    { store: presence, settings: config.presence },
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
      bodies: httpBodies(config.protocol),
      limits: rateLimits,
      localAccounts: config.auth.localAccounts,
      maxUploadBytes: config.files.maxUploadBytes,
      vapidPublicKey: vapid.publicKey,
    }),
    metrics,
    tracing,
    logger,
    parseCommand: createCommandParser(config.protocol),
    verifyToken: (token) => tokens.verify(token),
    verifyTokenNow: (token) => tokens.verifyNow(token),
    pingStorage: () => storage.ping(),
    limits: rateLimits,
    presence,
    config,
    sharePort: options.worker !== undefined,
  });
  const pushSender = new PushSender(vapid, config.outbound);
  // Webhooks' name lookups two at a time: libuv's pool has four threads, and pushes, files and
  // password hashing need them too (a name whose DNS never answers would hold one per request).
  const webhookHttp = new OutboundHttp({
    ...config.outbound,
    // The dispatcher bounds requests per endpoint; the agent must never queue one (no timeout runs while queued).
    maxSockets: config.webhooks.concurrency.total,
    maxLookups: 2,
  });
  notifyWorker = new NotifyWorker({
    db: storage.db,
    presence,
    sender: pushSender,
    webhookHttp,
    onReachChanged: (groupId, seq) => chat.reach.changed(groupId, seq),
    logger,
    metrics,
    config,
  });
  const jobs = createJobs({ config, storage, logger, metrics, chat, presence, worker: notifyWorker });
  // Embedded mode: how `banyan backup` reaches this process, which alone may open DATA_DIR.
  const backupSocket = await openBackupSocket(config, storage, blobs, logger);
  const port = await gateway.listen();
  chat.passkeys.listening(port);
  jobs.start();
  logger.info('banyan listening', {
    host: config.server.host,
    port,
    worker: options.worker,
    storage: storage.kind,
    bus: bus.kind,
    files: blobs.kind,
  });

  // What stop() closes after the jobs, in opening order.
  // Tracing first of all, so it closes last: the spans of the last writes are exported.
  const parts: { close(): unknown }[] = [
    { close: () => tracing.shutdown() },
    storage,
    bus,
    blobs,
    backupSocket,
    presence,
    rateLimits,
    pushSender,
    webhookHttp,
  ];

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

/** Storage, the bus, the file store and presence, in that order; a failure closes what opened before it. */
async function openParts(config: Config, logger: Logger, metrics: Metrics, tracing: Tracing): Promise<OpenedParts> {
  if (!config.storage.databaseUrl && !config.storage.embeddedFsync)
    logger.warn('EMBEDDED_FSYNC is off: acknowledged writes survive a killed process but not an OS crash or power loss');
  // PGlite migrates as it opens; PostgreSQL under an advisory lock, so replicas may start together.
  if (config.storage.databaseUrl) await runMigrations(config.storage);
  const storage = await openStorage(config.storage);
  timeDatabase(storage.db, metrics, tracing);
  if (storage.reads !== storage.db) timeDatabase(storage.reads, metrics, tracing);
  const { url: redisUrl, sharded } = config.redis;
  const bus: Bus = await openOrUnwind([storage], async () =>
    redisUrl
      ? await RedisBus.connect({
          url: redisUrl,
          sharded,
          logger: (level, msg, fields) => logger[level](msg, fields as Record<string, unknown>),
          onReconnect: (connection) => metrics.busReconnects.inc({ connection }),
        })
      : new MemoryBus(),
  ).then((opened) => new CountedBus(opened, metrics));
  metrics.trackBus(() => bus.healthy());
  metrics.trackOutboxBacklog(() => outboxBacklog(storage.db));
  const blobs = await openOrUnwind([storage, bus], () => openBlobStore(config.files.storageUrl, config.storage.dataDir));
  const replicaId = randomBytes(8).toString('hex');
  const presence: Presence = await openOrUnwind([storage, bus, blobs], async () =>
    redisUrl
      ? await RedisPresence.connect({ url: redisUrl, sharded, replicaId, ttlMs: config.presence.ttlMs, logger })
      : new LocalPresence(),
  );
  return { storage, bus, blobs, presence };
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
}): JobRunner {
  const { config, storage, logger, metrics, chat, presence, worker } = parts;
  const { leaseMs, coalesceMs } = config.notifications;
  const lease = storage.kind === 'postgres' ? advisoryLease(storage.db) : processLease;
  const reminders = new EventReminders({
    db: storage.db,
    logger,
    leaseMs,
    // How often idle reminders look for rows another replica stored (or left when it died).
    pollMs: Math.min(1000, leaseMs),
    coalesceMs,
    pushesOwed: () => worker.pushesOwed(),
  });
  return new JobRunner({ logger, metrics }).add(
    ...presence.jobs(),
    ...chat.jobs(),
    ...worker.jobs(lease),
    reminders.job(),
    sweepJob({
      name: 'messages.expiry',
      everyMs: config.messages.expirySweepMs,
      what: 'expired messages',
      logger,
      // Expired messages' files go in the same pass, not a minute later with the attachment sweep.
      sweep: async () => {
        const swept = await chat.expiry.sweep(config.messages.expirySweepBatch);
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
