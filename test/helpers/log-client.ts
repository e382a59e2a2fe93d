import { expect } from 'vitest';
import type { Replica } from './replicas.js';
import { sleep } from './replicas.js';
import { open, type CloseInfo, type Frame, type TestSocket } from './ws-client.js';

/**
 * A client that behaves as docs/protocol.md asks: it checks that each socket's stream of each group is
 * strictly consecutive from the `lastSeq` it was told, keeps every event it got (live or synced),
 * reconnects to another replica when its socket goes away, syncs from its last seq and resends
 * unacked messages with the same clientMsgId.
 */
export class LogClient {
  socket: TestSocket | undefined;
  replica: Replica | undefined;
  readonly log = new Map<string, Map<number, Frame>>();
  /** The first `lastSeq` a `ready` gave per group: the log is complete after it. */
  readonly baseline = new Map<string, number>();
  readonly violations: string[] = [];
  readonly closes: CloseInfo[] = [];
  readonly acked = new Map<string, { group: string; seq: number }>();
  reconnects = 0;
  private socketLast = new Map<string, number>();
  private connecting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly token: string,
    /** The replicas to pick from when reconnecting (running ones, other than the lost one). */
    private readonly replicas: () => Replica[],
  ) {}

  async connect(replica: Replica): Promise<void> {
    const socket = await open(replica.wsUrl, { headers: { authorization: `Bearer ${this.token}` } });
    this.socket = socket;
    this.replica = replica;
    this.socketLast = new Map();
    // Frames already in, then every later one, in order: no frame is missed between the two.
    for (const frame of socket.frames) this.onFrame(frame);
    socket.ws.on('message', () => this.onFrame(socket.frames[socket.frames.length - 1]!));
    void socket.closed.then((info) => this.onClose(socket, info));
    await socket.next((f) => f.type === 'ready' || f.type === 'error', 10_000);
    if (!socket.frames.some((f) => f.type === 'ready')) throw new Error(`${this.name}: no ready: ${JSON.stringify(socket.frames)}`);
    await this.syncAll();
  }

  /** Stops reconnecting and closes the socket. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.socket?.close();
  }

  /** The highest seq up to which this client has every event of the group. */
  seen(group: string): number {
    const events = this.log.get(group);
    let seq = this.baseline.get(group) ?? 0;
    while (events?.has(seq + 1)) seq++;
    return seq;
  }

  /** Sends one message, retrying (same clientMsgId) across reconnects and `unavailable`. */
  async send(group: string, clientMsgId: string, text: string, timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${this.name}: ${clientMsgId} not acked in ${timeoutMs} ms`);
      if (this.connecting) await this.connecting.catch(() => undefined);
      const socket = this.socket;
      if (!socket || socket.ws.readyState !== socket.ws.OPEN) {
        await sleep(20);
        continue;
      }
      const reply = await Promise.race([
        socket.request({ type: 'send', group, clientMsgId, text }, 10_000).catch(() => undefined),
        socket.closed.then(() => undefined),
      ]);
      if (reply?.type === 'ack') {
        const earlier = this.acked.get(clientMsgId);
        if (earlier && earlier.seq !== reply.seq)
          this.violations.push(`${clientMsgId} acked twice with seqs ${earlier.seq} and ${reply.seq}`);
        this.acked.set(clientMsgId, { group, seq: reply.seq });
        return reply;
      }
      if (reply?.type === 'error' && reply.code !== 'unavailable') throw new Error(`${this.name}: send failed: ${JSON.stringify(reply)}`);
      await sleep(50);
    }
  }

  /** Waits until this client has every event of the group up to `seq`. */
  async waitForSeq(group: string, seq: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.seen(group) < seq) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} (replica ${this.replica?.index}): has ${group} up to ${this.seen(group)} of ${seq}`);
      await sleep(20);
    }
  }

  /** Asserts: no stream violation, and events after the baseline are exactly `authoritative`. */
  expectComplete(group: string, authoritative: Frame[]): void {
    expect(this.violations, this.name).toStrictEqual([]);
    const base = this.baseline.get(group) ?? 0;
    const want = authoritative.filter((e) => e.seq > base).map(eventKey);
    const events = this.log.get(group) ?? new Map<number, Frame>();
    const got = [...events.keys()].sort((a, b) => a - b).map((seq) => eventKey(events.get(seq)!));
    expect(got.length, `${this.name}: events of ${group}`).toBe(want.length);
    expect(got).toStrictEqual(want);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === 'ready') {
      for (const g of frame.groups as Frame[]) this.follow(g.id, g.lastSeq);
    } else if (frame.type === 'group_added') {
      this.follow(frame.group.id, frame.group.lastSeq);
    } else if (frame.type === 'group_removed') {
      this.socketLast.delete(frame.group);
    } else if (frame.type === 'event') {
      const last = this.socketLast.get(frame.group);
      if (last === undefined) this.violations.push(`${this.name}: event ${frame.seq} of unfollowed ${frame.group}`);
      else if (frame.seq !== last + 1)
        this.violations.push(`${this.name} (replica ${this.replica?.index}): ${frame.group} seq ${frame.seq} after ${last}`);
      this.socketLast.set(frame.group, frame.seq);
      this.record(frame);
    }
  }

  private follow(group: string, lastSeq: number): void {
    this.socketLast.set(group, lastSeq);
    if (!this.baseline.has(group)) this.baseline.set(group, lastSeq);
    if (!this.log.has(group)) this.log.set(group, new Map());
  }

  private record(event: Frame): void {
    const events = this.log.get(event.group) ?? new Map<number, Frame>();
    this.log.set(event.group, events);
    const earlier = events.get(event.seq);
    if (earlier && eventKey(earlier) !== eventKey(event))
      this.violations.push(`${this.name}: seq ${event.seq} differs: ${eventKey(earlier)} vs ${eventKey(event)}`);
    events.set(event.seq, event);
  }

  /** `sync` from what this client has, page by page, for every group it follows. */
  private async syncAll(): Promise<void> {
    const socket = this.socket!;
    for (let more = true; more; ) {
      const groups = Object.fromEntries([...this.baseline.keys()].map((g) => [g, this.seen(g)]));
      if (Object.keys(groups).length === 0) return;
      const reply = await socket.request({ type: 'sync', groups }, 10_000);
      if (reply.type !== 'synced') throw new Error(`${this.name}: sync failed: ${JSON.stringify(reply)}`);
      more = false;
      for (const [group, r] of Object.entries(reply.groups as Record<string, { events: Frame[]; hasMore: boolean }>)) {
        for (const event of r.events) this.record({ ...event, group });
        if (r.hasMore) more = true;
      }
    }
  }

  private onClose(socket: TestSocket, info: CloseInfo): void {
    this.closes.push(info);
    if (this.stopped || socket !== this.socket || info.code === 4403) return;
    this.connecting = this.reconnect().finally(() => {
      this.connecting = undefined;
    });
  }

  private async reconnect(): Promise<void> {
    const lost = this.replica;
    for (let attempt = 0; !this.stopped; attempt++) {
      const candidates = this.replicas().filter((r) => r !== lost && r.running);
      const replica = candidates[attempt % Math.max(1, candidates.length)] ?? lost!;
      try {
        await this.connect(replica);
        this.reconnects++;
        return;
      } catch {
        await sleep(100);
      }
    }
  }
}

/** What must match between two copies of an event. */
const eventKey = (e: Frame) => `${e.seq}:${e.kind}:${e.sender}:${e.clientMsgId ?? ''}:${e.text ?? ''}`;

/** Every event of a group, from storage, through a fresh socket on `replica`. */
export async function fullLog(replica: Replica, token: string, group: string): Promise<Frame[]> {
  const socket = await open(replica.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await socket.next((f) => f.type === 'ready');
  const events: Frame[] = [];
  for (;;) {
    const after = events.length ? events[events.length - 1]!.seq : 0;
    const reply = await socket.request({ type: 'sync', groups: { [group]: after } }, 10_000);
    const r = reply.groups[group] as { events: Frame[]; hasMore: boolean };
    events.push(...r.events.map((e) => ({ ...e, group })));
    if (!r.hasMore) break;
  }
  await socket.close();
  return events;
}

/** Asserts every acked message is in the log exactly once, at the seq its ack named. */
export function expectAckedOnce(log: Frame[], senders: { id: string; client: LogClient }[]): void {
  const bySenderMsg = new Map<string, Frame[]>();
  for (const e of log) {
    if (e.kind !== 'message') continue;
    const key = `${e.sender}/${e.clientMsgId}`;
    bySenderMsg.set(key, [...(bySenderMsg.get(key) ?? []), e]);
  }
  for (const { id, client } of senders) {
    for (const [clientMsgId, ack] of client.acked) {
      if (ack.group !== log[0]?.group) continue;
      const copies = bySenderMsg.get(`${id}/${clientMsgId}`) ?? [];
      expect(
        copies.map((c) => c.seq),
        `${client.name} ${clientMsgId}`,
      ).toStrictEqual([ack.seq]);
    }
  }
  const seqs = log.map((e) => e.seq);
  expect(seqs).toStrictEqual(seqs.map((_, i) => i + 1));
}
