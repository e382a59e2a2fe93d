import type { Bus, BusMessage } from '../bus/bus.js';
import { type TraceContext, type Tracing, tracingOff } from '../platform/obs/tracing.js';
import { expiredFrame, typingFrame, type LogEvent } from '../protocol/frames.js';
import { encodeAccessChange, type AccessChange } from './access-change.js';
import { encodeControl, type ControlMessage } from './control.js';
import { eventBusMessage } from './event-message.js';
import { encodePresenceBatch, type PresenceBatch } from './presence-batch.js';
import { ACCESS_TOPIC, PRESENCE_TOPIC, REVOKED_TOPIC, controlTopic, groupTopic, topicKind } from './topics.js';

/** Hands committed events and ephemeral frames to the bus: the one way anything reaches sockets. */
export class Publisher {
  private readonly committedListeners: ((groupId: string) => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly tracing: Tracing = tracingOff,
  ) {}

  /** Told, on this replica, of every group whose events are about to be published (what is cached here of it is stale). */
  onCommitted(listener: (groupId: string) => void): void {
    this.committedListeners.push(listener);
  }

  /**
   * Publishes committed events of one group, in seq order. Call only after the commit. With
   * tracing on, `traces` names the trace each event belongs to (the send that stored it, when
   * a queue stored it on its behalf); other events take the active one.
   */
  async events(rows: readonly LogEvent[], traces?: ReadonlyMap<LogEvent, TraceContext>): Promise<void> {
    const groups = new Set(rows.map((row) => row.groupId));
    for (const listener of this.committedListeners) for (const groupId of groups) listener(groupId);
    // Issued back to back without waiting: the bus keeps per-topic order on one connection.
    if (this.tracing.on) await Promise.all(rows.map((row) => this.traced(eventBusMessage(row), traces?.get(row))));
    else await Promise.all(rows.map((row) => this.bus.publish(eventBusMessage(row))));
  }

  async control(userId: string, message: ControlMessage): Promise<void> {
    await this.publish({ topic: controlTopic(userId), data: encodeControl(userId, message) });
  }

  /** Tells every replica's membership cache; call only after the change is committed. */
  async accessChanged(change: AccessChange): Promise<void> {
    await this.publish({ topic: ACCESS_TOPIC, data: encodeAccessChange(change) });
  }

  /** Tells every replica that sessions of the user were revoked; call only after the commit. */
  async revoked(userId: string): Promise<void> {
    await this.publish({ topic: REVOKED_TOPIC, data: userId });
  }

  /** Whether the bus delivers now (what is kept in memory from it is trusted only then). */
  busHealthy(): boolean {
    return this.bus.healthy();
  }

  /** Messages of a group erased on expiry: a frame (no seq, not logged) to its sockets; call only after the commit. */
  async expired(groupId: string, seqs: number[]): Promise<void> {
    for (const listener of this.committedListeners) listener(groupId);
    await this.publish({ topic: groupTopic(groupId), data: expiredFrame(groupId, seqs) });
  }

  /**
   * Presence frames of one flush (ephemeral: nothing is committed), one message to every replica
   * however many viewers it names: each replica hands theirs to the sessions it holds.
   */
  async presence(batch: PresenceBatch): Promise<void> {
    await this.publish({ topic: PRESENCE_TOPIC, data: encodePresenceBatch(batch) });
  }

  async typing(groupId: string, userId: string, originConnection: string): Promise<void> {
    await this.publish({ topic: groupTopic(groupId), origin: originConnection, data: typingFrame(groupId, userId) });
  }

  private publish(message: BusMessage): Promise<void> {
    return this.tracing.on ? this.traced(message) : this.bus.publish(message);
  }

  /**
   * A publish inside a trace (under `parent`, else the active span) is a span of its own, and the
   * message carries its traceparent: the receiving replicas' deliveries are its children. Outside
   * any trace (a presence flush, a job), the message goes as it is.
   */
  private traced(message: BusMessage, parent?: TraceContext): Promise<void> {
    return this.tracing.span(
      'bus publish',
      { kind: 'producer', parent, onlyInTrace: true, attributes: { 'banyan.topic': topicKind(message.topic) } },
      () => {
        const trace = this.tracing.traceparent();
        return this.bus.publish(trace ? { ...message, trace } : message);
      },
    );
  }
}
