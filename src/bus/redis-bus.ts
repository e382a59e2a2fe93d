import { randomBytes } from 'node:crypto';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { createLogger } from '../platform/obs/logger.js';
import { connectRedis, redactRedisUrl, redisRetryDelay } from '../platform/redis.js';
import type { Bus, BusHandler, BusMessage } from './bus.js';

export type BusLogger = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface RedisBusOptions {
  /**
   * `redis://[user:pass@]host:port[/db]` (or `rediss://`). In sharded mode: one or more
   * comma-separated seed nodes of the cluster, e.g. `redis://10.0.0.1:6379,redis://10.0.0.2:6379`;
   * credentials and TLS of the first seed that has them apply to all nodes, the db is ignored.
   */
  url: string;
  /** Redis Cluster with sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis >= 7). */
  sharded?: boolean;
  /** Prepended to every topic to name its channel. Default `banyan:`. */
  prefix?: string;
  /** CLIENT SETNAME base: connections are `<name>:pub` and `<name>:sub`. Default `banyan-bus`. */
  connectionName?: string;
  /** How long connect() waits for both connections to be ready. Default 5000. */
  connectTimeoutMs?: number;
  /** A publish not answered in this time fails (and loops back locally). Default 2000. */
  publishTimeoutMs?: number;
  logger?: BusLogger;
  /** Told each time a connection is back after a loss (metrics). */
  onReconnect?: (connection: 'publisher' | 'subscriber') => void;
}

type Client = Redis | Cluster;

/** How the two modes differ: the commands and the event that carries messages. */
interface Transport {
  publish(channel: string, payload: string): Promise<unknown>;
  subscribe(channels: string[]): Promise<unknown>;
  unsubscribe(channels: string[]): Promise<unknown>;
  messageEvent: 'message' | 'smessage';
}

const RESUBSCRIBE_CHUNK = 1000;
const RESUBSCRIBE_RETRY_MS = 1000;
const QUIT_TIMEOUT_MS = 1000;
/**
 * Topics no longer wanted are gathered this long into one UNSUBSCRIBE. Nothing waits on it (a
 * message of a topic no longer wanted is dropped), and feeds end one by one as their linger
 * timers run out: one command each was a Redis round trip per group a replica stopped following.
 */
const UNSUBSCRIBE_GATHER_MS = 500;
const WARN_INTERVAL_MS = 10_000;
/**
 * Every bus follows this topic (not one of the app's): a bus whose publishes failed tells the
 * others here, once it publishes again, that they missed messages (see announceLostPublishes).
 */
const LOST_TOPIC = 'bus:lost';

/**
 * Wire format of a message: `<seq>\n<leaves>\n<origin>\n<data>`, each of the first three possibly empty, so a
 * receiver reads seq and leaves without parsing data. data may itself contain newlines. A traced
 * message (tracing on) is preceded by `t<traceparent>\n`; no seq starts with `t`, and an untraced
 * message is byte for byte what it was before tracing existed.
 */
export function encodeBusMessage(message: BusMessage): string {
  const { seq, leaves, origin, trace } = message;
  if (seq !== undefined && !Number.isSafeInteger(seq)) throw new TypeError(`bus: seq must be an integer, got ${seq}`);
  for (const [name, value] of [
    ['leaves', leaves],
    ['origin', origin],
  ] as const) {
    if (value !== undefined && (value === '' || value.includes('\n'))) {
      throw new TypeError(`bus: ${name} must be a non-empty id without newlines`);
    }
  }
  const encoded = `${seq ?? ''}\n${leaves ?? ''}\n${origin ?? ''}\n${message.data}`;
  if (trace === undefined) return encoded;
  if (!TRACEPARENT.test(trace)) throw new TypeError('bus: trace must be a W3C traceparent');
  return `${TRACE_MARK}${trace}\n${encoded}`;
}

const TRACE_MARK = 't';
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** The message of a payload, or null when the payload is not in the wire format. */
export function decodeBusMessage(topic: string, payload: string): BusMessage | null {
  if (payload.startsWith(TRACE_MARK)) return decodeTraced(topic, payload);
  const first = payload.indexOf('\n');
  const second = first < 0 ? -1 : payload.indexOf('\n', first + 1);
  const third = second < 0 ? -1 : payload.indexOf('\n', second + 1);
  if (third < 0) return null;
  const message: BusMessage = { topic, data: payload.slice(third + 1) };
  if (first > 0) {
    const seq = Number(payload.slice(0, first));
    if (!Number.isSafeInteger(seq)) return null;
    message.seq = seq;
  }
  if (second > first + 1) message.leaves = payload.slice(first + 1, second);
  if (third > second + 1) message.origin = payload.slice(second + 1, third);
  return message;
}

function decodeTraced(topic: string, payload: string): BusMessage | null {
  const end = payload.indexOf('\n');
  const trace = payload.slice(TRACE_MARK.length, end);
  const message = end < 0 || !TRACEPARENT.test(trace) ? null : decodeBusMessage(topic, payload.slice(end + 1));
  if (message) message.trace = trace;
  return message;
}

/** The Redis bus: pub/sub across replicas, one publisher and one subscriber connection. */
export class RedisBus implements Bus {
  readonly kind = 'redis' as const;

  private readonly pub: Client;
  /** Replaced as a whole in sharded mode when the cluster connection is lost (listenSubscriber). */
  private sub: Client;
  private readonly newShardSubscriber: ((lazyConnect: boolean) => Cluster) | undefined;
  /** Shard-subscriber clusters replaced since the last good session; sets the backoff. */
  private shardSubscriberRestarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly transport: Transport;
  /** Topics wanted while the event loop is busy (a reconnect storm's users) go in one SUBSCRIBE once the current I/O phase is over. */
  private readonly subscribes = new TopicBatches(
    (run) => setImmediate(run),
    (topics) =>
      this.sendInChunks(
        'subscribe',
        topics.filter((t) => this.wanted.has(t)),
      ),
  );
  /** Topics no longer wanted go in one UNSUBSCRIBE per UNSUBSCRIBE_GATHER_MS. */
  private readonly unsubscribes = new TopicBatches(
    (run) => setTimeout(run, UNSUBSCRIBE_GATHER_MS),
    (topics) =>
      this.sendInChunks(
        'unsubscribe',
        topics.filter((t) => !this.wanted.has(t)),
      ),
  );
  private readonly prefix: string;
  private readonly sharded: boolean;
  private readonly log: BusLogger;
  private readonly onReconnect: (connection: 'publisher' | 'subscriber') => void;
  private readonly where: string;

  private handler: BusHandler = () => {};
  /** Names this bus as the origin of its LOST_TOPIC notices (it does not act on its own). */
  private readonly id = randomBytes(8).toString('hex');
  /** A publish failed since the last notice on LOST_TOPIC went out. */
  private lostPublishes = false;
  private announcingLoss = false;
  private readonly resyncHandlers: (() => void)[] = [];
  /** Topics this replica wants; the truth the subscriber connection is brought back to. */
  private readonly wanted = new Set<string>();
  /** The subscriber receives every wanted topic now; while false, publish also delivers locally. */
  private subLive = false;
  /** connect() has finished: from now on a new subscriber session means messages were lost. */
  private started = false;
  /** Bumped per subscriber session, so a stale resubscription does not declare the bus live. */
  private subSession = 0;
  private resubscribeTimer: NodeJS.Timeout | undefined;
  private resubscribing: number | undefined;
  private closing: Promise<void> | undefined;
  private readonly warned = new Map<string, { at: number; suppressed: number }>();

  // Start-up progress, read by connect().
  private pubReadyOnce = false;
  private subReadyOnce = false;
  private lastError: string | undefined;
  private startupWaiter: (() => void) | undefined;

  /** Connects both connections; rejects if Redis is not reachable within connectTimeoutMs. */
  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          const why = bus.lastError ?? 'no answer';
          reject(new Error(`redis bus: could not connect to ${bus.where} within ${timeoutMs} ms (${why})`));
        }, timeoutMs);
        bus.startupWaiter = resolve;
        bus.checkStartup();
      });
    } catch (err) {
      await bus.close();
      throw err;
    } finally {
      clearTimeout(timer);
      bus.startupWaiter = undefined;
    }
    bus.started = true;
    await bus.subscribe(LOST_TOPIC);
    bus.log('info', 'redis bus connected', { url: bus.where, sharded: bus.sharded });
    return bus;
  }

  private constructor(options: RedisBusOptions) {
    this.prefix = options.prefix ?? 'banyan:';
    this.sharded = options.sharded ?? false;
    this.log = options.logger ?? defaultLogger();
    this.onReconnect = options.onReconnect ?? (() => {});
    this.where = redactRedisUrl(options.url);
    const name = options.connectionName ?? 'banyan-bus';
    const publishTimeoutMs = options.publishTimeoutMs ?? 2000;

    const target = { url: options.url, sharded: this.sharded };
    if (this.sharded) {
      // Separate clusters: the publisher must fail fast, the subscriber owns the shard connections.
      const pub = connectRedis(target, {
        name: `${name}:pub`,
        node: { commandTimeout: publishTimeoutMs },
        cluster: { enableOfflineQueue: false },
      }) as Cluster;
      this.pub = pub;
      this.newShardSubscriber = (lazyConnect) =>
        connectRedis(target, {
          name: `${name}:sub`,
          cluster: { lazyConnect, enableOfflineQueue: false, shardedSubscribers: true },
        }) as Cluster;
      this.sub = this.newShardSubscriber(false);
      const sub = () => this.sub as Cluster;
      this.transport = {
        publish: (channel, payload) => pub.spublish(channel, payload),
        // ioredis routes SSUBSCRIBE by slot and rejects channels of different slots in one call.
        subscribe: (channels) => Promise.all(channels.map((c) => sub().ssubscribe(c))),
        unsubscribe: (channels) => Promise.all(channels.map((c) => sub().sunsubscribe(c))),
        messageEvent: 'smessage',
      };
    } else {
      const common: RedisOptions = {
        // Reject in-flight commands when the connection drops instead of replaying them later.
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        enableOfflineQueue: false,
      };
      const pub = connectRedis(target, { name: `${name}:pub`, standalone: { ...common, commandTimeout: publishTimeoutMs } }) as Redis;
      // The bus resubscribes itself, so it knows when the subscriptions are back before resync.
      const sub = connectRedis(target, { name: `${name}:sub`, standalone: { ...common, autoResubscribe: false } }) as Redis;
      this.pub = pub;
      this.sub = sub;
      this.transport = {
        publish: (channel, payload) => pub.publish(channel, payload),
        subscribe: (channels) => sub.subscribe(...channels),
        unsubscribe: (channels) => sub.unsubscribe(...channels),
        messageEvent: 'message',
      };
    }
    this.listen('publisher', this.pub);
    this.pub.on('ready', () => {
      this.pubReadyOnce = true;
      if (this.started) {
        this.log('info', 'redis bus publisher reconnected');
        this.onReconnect('publisher');
      }
      if (this.lostPublishes) void this.announceLostPublishes();
      this.checkStartup();
    });
    this.listenSubscriber(this.sub);
  }

  /** Logging common to every connection. */
  private listen(role: 'publisher' | 'subscriber', client: Client): void {
    client.on('error', (err: Error) => {
      this.lastError = err.message;
      if (this.closing) return;
      this.warnLimited(`error:${role}`, `redis bus ${role} connection error`, { error: err.message });
    });
    // Cluster only: a node's connection failed ('node error' from the pool, 'nodeError' from a shard subscriber).
    for (const event of ['node error', 'nodeError']) {
      client.on(event, (err: Error, node: string) => {
        this.lastError = err.message;
        if (this.closing) return;
        this.warnLimited(`node-error:${role}`, `redis bus ${role} node error`, { error: err.message, node });
      });
    }
    client.on('close', () => {
      if (this.closing) return;
      this.warnLimited(`close:${role}`, `redis bus ${role} connection lost; reconnecting`, { url: this.where });
    });
  }

  private listenSubscriber(sub: Client): void {
    this.listen('subscriber', sub);
    // Events of a shard-subscriber cluster that was replaced (see below) are stale.
    const current = () => sub === this.sub && !this.closing;
    sub.on(this.transport.messageEvent, (channel: string, payload: string) => {
      if (current()) this.receive(channel, payload);
    });
    if (!this.sharded) {
      sub.on('ready', () => {
        if (current()) this.onSubscriberSession();
      });
      sub.on('close', () => {
        if (current()) this.subLive = false;
      });
      return;
    }
    let hadSubscribers = false;
    sub.on('+subscriber', () => {
      hadSubscribers = true;
    });
    sub.on('ready', () => {
      if (!current()) return;
      this.checkStartup();
      // The shard subscribers can be ready before the cluster; a session waiting for it goes on now.
      if (this.started && !this.subLive) {
        clearTimeout(this.resubscribeTimer);
        void this.resubscribe(this.subSession);
      }
    });
    // The cluster (re)creates its shard subscribers after a failure or topology change, then emits this.
    sub.on('subscribersReady', () => {
      if (current()) this.onSubscriberSession();
    });
    sub.on('-subscriber', () => {
      if (!current()) return;
      this.subLive = false;
      this.warnLimited('shard-subscriber', 'redis bus lost a shard subscriber; resubscribing', { url: this.where });
    });
    sub.on('close', () => {
      if (!current() || !hadSubscribers || !this.newShardSubscriber) return;
      // ioredis 5.9.2 never re-creates shard subscribers once the cluster client disconnected after
      // creating them (its subscriber group forgets its slot index but keeps the slot map), so a
      // fresh cluster client takes over; its first 'subscribersReady' resubscribes and resyncs.
      this.subLive = false;
      sub.disconnect();
      const delay = redisRetryDelay(++this.shardSubscriberRestarts);
      this.warnLimited('sub-restart', 'redis bus subscriber cluster lost; starting a new client', { url: this.where, delay });
      const next = this.newShardSubscriber(true);
      this.sub = next;
      this.listenSubscriber(next);
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        if (next !== this.sub || this.closing) return;
        next.connect().catch((err: unknown) => {
          // It keeps retrying by itself (clusterRetryStrategy).
          this.warnLimited('sub-restart-connect', 'redis bus subscriber cluster not reachable yet', { error: errorMessage(err) });
        });
      }, delay);
    });
  }

  private checkStartup(): void {
    const subReady = this.subReadyOnce && this.sub.status === 'ready';
    if (this.startupWaiter && this.pubReadyOnce && this.pub.status === 'ready' && subReady) this.startupWaiter();
  }

  /** A new subscriber session began: nothing is subscribed on it unless the bus makes it so. */
  private onSubscriberSession(): void {
    if (this.closing) return;
    const session = ++this.subSession;
    clearTimeout(this.resubscribeTimer);
    if (!this.started) {
      // First connection: nobody could subscribe yet, so nothing was lost.
      this.subReadyOnce = true;
      this.subLive = true;
      this.checkStartup();
      return;
    }
    this.subLive = false;
    void this.resubscribe(session);
  }

  /** Subscribes every wanted topic, and only then tells the resync handlers to catch up. */
  private async resubscribe(session: number): Promise<void> {
    // One run per session at a time: a second trigger while it runs would resync twice.
    if (this.resubscribing === session) return;
    this.resubscribing = session;
    try {
      await this.resubscribeOnce(session);
    } finally {
      if (this.resubscribing === session) this.resubscribing = undefined;
    }
  }

  private async resubscribeOnce(session: number): Promise<void> {
    const topics = [...this.wanted];
    try {
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < topics.length; i += RESUBSCRIBE_CHUNK) {
        sent.push(this.transport.subscribe(topics.slice(i, i + RESUBSCRIBE_CHUNK).map((t) => this.prefix + t)));
      }
      await Promise.all(sent);
    } catch (err) {
      if (session !== this.subSession || this.closing) return;
      this.warnLimited('resubscribe', 'redis bus resubscription failed; retrying', { error: errorMessage(err) });
      // Retry while this session lasts; a reconnect starts a new session that supersedes it.
      this.resubscribeTimer = setTimeout(() => {
        if (session === this.subSession && !this.closing) void this.resubscribe(session);
      }, RESUBSCRIBE_RETRY_MS);
      return;
    }
    if (session !== this.subSession || this.closing) return;
    this.subLive = true;
    this.shardSubscriberRestarts = 0;
    this.log('info', 'redis bus subscriber reconnected; resyncing', { topics: topics.length });
    this.onReconnect('subscriber');
    this.resync();
  }

  private resync(): void {
    for (const resync of this.resyncHandlers) {
      try {
        resync();
      } catch (err) {
        this.log('error', 'redis bus resync handler threw', { error: errorMessage(err) });
      }
    }
  }

  /**
   * Publishes of this bus failed: the other replicas never heard them, and those whose own
   * connection stayed up have no reconnect to resync on. Once publishing works again, one notice
   * tells them to resync as after a reconnect (docs/protocol.md §1, "During a Redis outage").
   */
  private async announceLostPublishes(): Promise<void> {
    if (this.announcingLoss || this.closing) return;
    this.announcingLoss = true;
    this.lostPublishes = false;
    try {
      await this.transport.publish(this.prefix + LOST_TOPIC, encodeBusMessage({ topic: LOST_TOPIC, origin: this.id, data: '' }));
    } catch {
      // Still failing: the next publish that goes through, or the next reconnect, tries again.
      this.lostPublishes = true;
    } finally {
      this.announcingLoss = false;
    }
  }

  private receive(channel: string, payload: string): void {
    if (!channel.startsWith(this.prefix)) return;
    const topic = channel.slice(this.prefix.length);
    // An UNSUBSCRIBE may still be in flight; the caller already stopped wanting the topic.
    if (!this.wanted.has(topic)) return;
    const message = decodeBusMessage(topic, payload);
    if (!message) {
      this.warnLimited('malformed', 'redis bus dropped a malformed message', { channel, bytes: payload.length });
      return;
    }
    if (topic === LOST_TOPIC) {
      if (message.origin !== this.id) {
        this.log('info', 'redis bus: another replica lost publishes; resyncing', { from: message.origin });
        this.resync();
      }
      return;
    }
    this.deliver(message);
  }

  private deliver(message: BusMessage): void {
    try {
      this.handler(message);
    } catch (err) {
      // Thrown into ioredis' parser it would break the connection; the handler owns its errors.
      this.log('error', 'redis bus message handler threw', { topic: message.topic, error: errorMessage(err) });
    }
  }

  async publish(message: BusMessage): Promise<void> {
    const payload = encodeBusMessage(message);
    if (this.closing) {
      this.warnLimited('closed', 'redis bus is closed; message dropped', { topic: message.topic });
      return;
    }
    // The subscriber would not hand this back now; local sockets get it directly (duplicates are
    // dropped by seq downstream).
    const deliveredLocally = !this.subLive && this.wanted.has(message.topic);
    if (deliveredLocally) this.deliver(message);
    try {
      await this.transport.publish(this.prefix + message.topic, payload);
      if (this.lostPublishes) void this.announceLostPublishes();
    } catch (err) {
      this.lostPublishes = true;
      this.warnLimited('publish', 'redis bus publish failed; delivering to local subscribers only', {
        topic: message.topic,
        error: errorMessage(err),
      });
      if (!deliveredLocally && this.wanted.has(message.topic)) this.deliver(message);
    }
  }

  async subscribe(topic: string): Promise<void> {
    if (this.closing || this.wanted.has(topic)) return;
    this.wanted.add(topic);
    // While the subscriber is away, the next session subscribes every wanted topic.
    if (!this.subscriberConnected()) return;
    await this.subscribes.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    if (!this.wanted.delete(topic) || this.closing) return;
    if (!this.subscriberConnected()) return;
    await this.unsubscribes.add(topic);
  }

  /**
   * A gathered batch, in commands of at most RESUBSCRIBE_CHUNK topics. The caller left out the
   * topics whose wish changed meanwhile: a topic wanted again stays subscribed, one dropped again
   * is not subscribed. While the subscriber is away there is nothing to send: its next session
   * subscribes exactly the wanted topics.
   */
  private async sendInChunks(op: 'subscribe' | 'unsubscribe', topics: string[]): Promise<void> {
    if (this.closing || !this.subscriberConnected()) return;
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < topics.length; i += RESUBSCRIBE_CHUNK) {
      const chunk = topics.slice(i, i + RESUBSCRIBE_CHUNK);
      sent.push(this.transport[op](chunk.map((t) => this.prefix + t)).catch((err: unknown) => this.subscriptionFailed(op, chunk[0]!, err)));
    }
    await Promise.all(sent);
  }

  private subscriberConnected(): boolean {
    return this.sub.status === 'ready';
  }

  private subscriptionFailed(op: 'subscribe' | 'unsubscribe', topic: string, err: unknown): void {
    if (this.closing) return;
    if (this.subscriberConnected()) {
      // Not a dropped connection: a new session is not coming by itself, so start the repair here.
      this.warnLimited(`${op}-ready`, `redis bus ${op} failed on a ready connection; resubscribing`, {
        topic,
        error: errorMessage(err),
      });
      this.subLive = false;
      const session = ++this.subSession;
      clearTimeout(this.resubscribeTimer);
      this.resubscribeTimer = setTimeout(() => void this.resubscribe(session), RESUBSCRIBE_RETRY_MS);
    } else {
      this.warnLimited(op, `redis bus ${op} failed; the reconnect will restore subscriptions`, {
        topic,
        error: errorMessage(err),
      });
    }
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onResync(handler: () => void): void {
    this.resyncHandlers.push(handler);
  }

  healthy(): boolean {
    return !this.closing && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.resubscribeTimer);
    clearTimeout(this.restartTimer);
    this.wanted.clear();
    this.subLive = false;
    await Promise.all([this.quit(this.pub), this.quit(this.sub)]);
  }

  /** QUIT when connected, bounded in time; otherwise (or after the bound) drop the connection. */
  private async quit(client: Client): Promise<void> {
    if (client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.quit().then(
          () => undefined,
          (err: unknown) => this.log('warn', 'redis bus quit failed; disconnecting', { error: errorMessage(err) }),
        ),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    if (client.status !== 'end') client.disconnect();
  }

  /** Logs the first of a kind, then at most once per interval with the count left out. */
  private warnLimited(kind: string, msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const entry = this.warned.get(kind);
    if (entry && now - entry.at < WARN_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    this.warned.set(kind, { at: now, suppressed: 0 });
    this.log('warn', msg, entry?.suppressed ? { ...fields, suppressed: entry.suppressed } : fields);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Without a logger from the app, the bus writes the app's line format at info. */
function defaultLogger(): BusLogger {
  const logger = createLogger('info');
  return (level, msg, fields) => logger[level](msg, fields);
}

/** Topics gathered until `schedule` runs the batch: one command for a burst, and each caller resolved once it is sent. */
class TopicBatches {
  private open: { topics: Set<string>; done: Promise<void> } | undefined;

  constructor(
    private readonly schedule: (run: () => void) => void,
    private readonly send: (topics: string[]) => Promise<void>,
  ) {}

  add(topic: string): Promise<void> {
    let batch = this.open;
    if (!batch) {
      const topics = new Set<string>();
      const done = new Promise<void>((resolve) =>
        this.schedule(() => {
          this.open = undefined;
          void this.send([...topics]).then(resolve);
        }),
      );
      batch = { topics, done };
      this.open = batch;
    }
    batch.topics.add(topic);
    return batch.done;
  }
}
