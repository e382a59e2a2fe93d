import type { Bus } from '../bus/bus.js';
import { expiredFrame, typingFrame, type LogEvent } from '../protocol/frames.js';
import { encodeAccessChange, type AccessChange } from './access-change.js';
import { encodeControl, type ControlMessage } from './control.js';
import { eventBusMessage } from './event-message.js';
import { ACCESS_TOPIC, groupTopic, userTopic } from './topics.js';

/** Hands committed events and ephemeral frames to the bus: the one way anything reaches sockets. */
export class Publisher {
  constructor(private readonly bus: Bus) {}

  /** Publishes committed events of one group, in seq order. Call only after the commit. */
  async events(rows: readonly LogEvent[]): Promise<void> {
    // Issued back to back without waiting: the bus keeps per-topic order on one connection.
    await Promise.all(rows.map((row) => this.bus.publish(eventBusMessage(row))));
  }

  async control(userId: string, message: ControlMessage): Promise<void> {
    await this.bus.publish({ topic: userTopic(userId), data: encodeControl(message) });
  }

  /** Tells every replica's membership cache; call only after the change is committed. */
  async accessChanged(change: AccessChange): Promise<void> {
    await this.bus.publish({ topic: ACCESS_TOPIC, data: encodeAccessChange(change) });
  }

  /** Messages of a group erased on expiry: a frame (no seq, not logged) to its sockets; call only after the commit. */
  async expired(groupId: string, seqs: number[]): Promise<void> {
    await this.bus.publish({ topic: groupTopic(groupId), data: expiredFrame(groupId, seqs) });
  }

  async typing(groupId: string, userId: string, originConnection: string): Promise<void> {
    await this.bus.publish({ topic: groupTopic(groupId), origin: originConnection, data: typingFrame(groupId, userId) });
  }
}
