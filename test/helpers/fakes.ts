// Small fakes for unit tests that isolate one class from the bus, the sockets or storage.
import type { Bus, BusHandler, BusMessage } from '../../src/bus/bus.js';
import type { ChatConfig } from '../../src/platform/deps.js';
import { loadConfig } from '../../src/platform/config.js';
import type { Fanout, FeedStorage } from '../../src/delivery/group-feeds.js';
import { createLogger, type Logger } from '../../src/platform/obs/logger.js';
import type { LogEvent } from '../../src/protocol/frames.js';
import { seededRandom } from './random.js';

export interface Chaos {
  seed?: number;
  /** Chance that a published message is lost. */
  drop?: number;
  /** Chance that a published message arrives twice. */
  duplicate?: number;
  /** Chance that a queued message waits for a later flush; each flush also shuffles what it delivers. */
  delay?: number;
}

/**
 * A bus whose deliveries the test drives: published messages queue until `flush()`, which hands
 * them to the handler (for subscribed topics only), lost, doubled and reordered as `chaos` says.
 */
export class FakeBus implements Bus {
  readonly kind = 'memory';
  readonly subscribed = new Set<string>();
  /** `subscribe <topic>` / `unsubscribe <topic>`, in call order. */
  readonly calls: string[] = [];
  readonly published: BusMessage[] = [];
  readonly dropped: BusMessage[] = [];
  private queue: BusMessage[] = [];
  private handler: BusHandler = () => undefined;
  private resync: () => void = () => undefined;
  private readonly random: () => number;

  constructor(private readonly chaos: Chaos = {}) {
    this.random = seededRandom(chaos.seed ?? 1);
  }

  async publish(message: BusMessage): Promise<void> {
    this.published.push(message);
    if (this.random() < (this.chaos.drop ?? 0)) {
      this.dropped.push(message);
      return;
    }
    this.queue.push(message);
    if (this.random() < (this.chaos.duplicate ?? 0)) this.queue.push(message);
  }

  /** Delivers what is queued, in a shuffled order when chaos is on; delayed ones stay queued. */
  flush(): void {
    const queued = this.queue;
    this.queue = [];
    const ready: BusMessage[] = [];
    for (const m of queued) (this.random() < (this.chaos.delay ?? 0) ? this.queue : ready).push(m);
    if (this.chaos.delay || this.chaos.duplicate || this.chaos.drop) this.shuffle(ready);
    for (const m of ready) if (this.subscribed.has(m.topic)) this.handler(m);
  }

  /** Flushes until nothing is queued. */
  drain(): void {
    while (this.queue.length > 0) this.flush();
  }

  /** Tells subscribers the bus lost messages, as a reconnect would. */
  lose(): void {
    this.resync();
  }

  async subscribe(topic: string): Promise<void> {
    this.calls.push(`subscribe ${topic}`);
    this.subscribed.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.calls.push(`unsubscribe ${topic}`);
    this.subscribed.delete(topic);
  }

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  onResync(handler: () => void): void {
    this.resync = handler;
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.subscribed.clear();
  }

  private shuffle(list: BusMessage[]): void {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }
}

export type FanoutCall =
  | { type: 'publish'; groupId: string; data: string; origin?: string | undefined }
  | { type: 'memberLeft'; groupId: string; userId: string };

/** Records what reaches the local sockets, in order. */
export class RecordingFanout implements Fanout {
  readonly calls: FanoutCall[] = [];

  publish(groupId: string, data: string, origin?: string): void {
    this.calls.push({ type: 'publish', groupId, data, origin });
  }

  memberLeft(groupId: string, userId: string): void {
    this.calls.push({ type: 'memberLeft', groupId, userId });
  }

  /** The seqs of the log events a group's sockets received, in order (from `from`, a calls index). */
  seqs(groupId: string, from = 0): number[] {
    return this.calls
      .slice(from)
      .flatMap((c) => (c.type === 'publish' && c.groupId === groupId ? [JSON.parse(c.data) as { seq?: number }] : []))
      .flatMap((frame) => (frame.seq === undefined ? [] : [frame.seq]));
  }
}

const ts = new Date('2026-01-01T00:00:00.000Z');

export const messageEvent = (groupId: string, seq: number): LogEvent => ({
  groupId,
  seq,
  ts,
  senderId: 'u1',
  kind: 'message',
  clientMsgId: `c${seq}`,
  text: `text ${seq}`,
  target: null,
  replyTo: null,
  data: { mentions: [] },
  editedAt: null,
  deleted: false,
  expiresAt: null,
  expired: false,
});

export const memberLeftEvent = (groupId: string, seq: number, member: string): LogEvent => ({
  ...messageEvent(groupId, seq),
  kind: 'member',
  clientMsgId: null,
  text: null,
  data: { action: 'left', member },
});

/** Group logs in memory, as storage would hold them after commit. */
export class MemoryFeedStorage implements FeedStorage {
  readonly logs = new Map<string, LogEvent[]>();
  /** Reads of events (gap fills). */
  fills = 0;
  /** Reads of where a log ends (feed baselines). */
  baselines = 0;
  /** Reads of where several logs end (the periodic check, the check of feeds started from a listing). */
  endReads = 0;
  /** When set, a `lastSeq` answer (read when asked) arrives only once this resolves. */
  lastSeqGate: Promise<void> | undefined;

  /** @param readDelayMs how long an answer, read when asked, takes to arrive (so the bus can overtake it) */
  constructor(private readonly readDelayMs = 0) {}

  /** Commits the next events of a group's log; returns them. */
  append(groupId: string, count = 1, make: (groupId: string, seq: number) => LogEvent = messageEvent): LogEvent[] {
    const log = this.logs.get(groupId) ?? [];
    this.logs.set(groupId, log);
    const added = Array.from({ length: count }, (_, i) => make(groupId, log.length + 1 + i));
    log.push(...added);
    return added;
  }

  async lastSeq(groupId: string): Promise<number> {
    this.baselines++;
    const seq = this.logs.get(groupId)?.length ?? 0;
    await this.travel();
    await this.lastSeqGate;
    return seq;
  }

  async lastSeqs(groupIds: string[]): Promise<{ id: string; lastSeq: number }[]> {
    this.endReads++;
    const ends = groupIds.filter((id) => this.logs.has(id)).map((id) => ({ id, lastSeq: this.logs.get(id)!.length }));
    await this.travel();
    return ends;
  }

  async eventsAfter(groupId: string, afterSeq: number, limit: number): Promise<LogEvent[]> {
    this.fills++;
    const rows = (this.logs.get(groupId) ?? []).slice(afterSeq, afterSeq + limit);
    await this.travel();
    return rows;
  }

  private async travel(): Promise<void> {
    if (this.readDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.readDelayMs));
  }
}

export const silentLogger: Logger = createLogger('silent');

/** A promise with its resolve, for holding something back until the test says so. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The features' settings at their defaults (a smaller group cap), for unit tests that build ChatDeps. */
export const testChatConfig: ChatConfig = loadConfig({
  MAX_GROUP_MEMBERS: '1000',
  MAX_COMMUNITY_GROUPS: '100',
  TOKEN_TTL_S: '3600',
  DEFAULT_GROUP_ADD: 'everyone',
});
