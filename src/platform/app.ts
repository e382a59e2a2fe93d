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
import { SWEEP_INTERVAL_MS, Sweeper } from './jobs/sweeper.js';
import { createLogger, type Logger } from './obs/logger.js';
import { createMetrics } from './obs/metrics.js';
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

/** The composition root: builds every part from Config, each from its section, and starts listening. */
export async function startApp(config: Config, options: StartOptions = {}): Promise<App> {
  const logger = createLogger(config.server.logLevel);
  const metrics = createMetrics();
  const secret = await resolveJwtSecret(config, logger);
  const tokens = new Tokens({ ...config.auth, secret });
  if (!config.storage.databaseUrl && !config.storage.embeddedFsync)
    logger.warn('EMBEDDED_FSYNC is off: acknowledged writes survive a killed process but not an OS crash or power loss');
  // PGlite migrates as it opens; PostgreSQL under an advisory lock, so replicas may start together.
  if (config.storage.databaseUrl) await runMigrations(config.storage);
  const storage = await openStorage(config.storage);
  const bus: Bus = await openOrUnwind([storage], async () =>
    config.redis.url
      ? await RedisBus.connect({
          url: config.redis.url,
          sharded: config.redis.sharded,
          logger: (level, msg, fields) => logger[level](msg, fields as Record<string, unknown>),
        })
      : new MemoryBus(),
  );
  const blobs = await openOrUnwind([storage, bus], () => openBlobStore(config.files.storageUrl, config.storage.dataDir));
  const replicaId = randomBytes(8).toString('hex');
  const presence: Presence = await openOrUnwind([storage, bus, blobs], async () =>
    config.redis.url
      ? await RedisPresence.connect({
          url: config.redis.url,
          sharded: config.redis.sharded,
          replicaId,
          ttlMs: config.presence.ttlMs,
          logger,
        })
      : new LocalPresence(),
  );
  const vapid = await resolveVapidKeys(config, storage.db, logger);
  let notifyWorker: NotifyWorker | undefined;
  const chat = createChat(
    {
      db: storage.db,
      reads: storage.reads,
      publisher: new Publisher(bus),
      notificationsOwed: () => notifyWorker?.kick(),
      logger,
      metrics,
      config,
    },
    tokens,
    { ...config.files, blobs, stagingDir: join(config.storage.dataDir, 'uploads') },
    { store: presence, settings: config.presence },
  );
  const sweeper = new Sweeper(() => chat.attachments.sweep(), SWEEP_INTERVAL_MS, logger);
  // Expired messages' files go in the same pass, not a minute later with the attachment sweep.
  const expirySweeper = new Sweeper(
    async () => {
      const swept = await chat.expiry.sweep(config.messages.expirySweepBatch);
      if (swept.filesDue > 0) await chat.attachments.sweep();
      return swept.erased;
    },
    config.messages.expirySweepMs,
    logger,
    'expired messages',
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
    config,
  });
  const port = await gateway.listen();
  sweeper.start();
  expirySweeper.start();
  notifyWorker.start();
  logger.info('banyan listening', {
    host: config.server.host,
    port,
    worker: options.worker,
    storage: storage.kind,
    bus: bus.kind,
    files: blobs.kind,
  });

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
        await gateway.drain();
        await sweeper.stop();
        await expirySweeper.stop();
        await notifyWorker?.stop();
        pushSender.close();
        webhookHttp.close();
        chat.reach.close();
        await chat.close();
        await presence.close();
        await rateLimits.close();
        await bus.close();
        await blobs.close();
        await storage.close();
      })()),
  };
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
