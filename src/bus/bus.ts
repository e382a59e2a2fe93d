/**
 * The bus carries serialised frames between replicas. Topics: `g:<groupId>` for a group's log
 * events and typing, `u:<userId>` for one user's control messages (docs/architecture.md).
 *
 * A message is published once and handed, as is, to every subscriber of its topic on every
 * replica, including the publisher's own (one delivery path: nothing is delivered locally
 * except through the bus handler).
 */
export interface BusMessage {
  topic: string;
  /** The group seq of a log event, readable without parsing `data`; absent for ephemeral frames. */
  seq?: number;
  /** For a membership event that takes a user out of the group: that user's id, or ALL_MEMBERS. */
  leaves?: string;
  /** The connection that caused an ephemeral frame (typing): it does not get its own frame back. */
  origin?: string;
  /** The serialised JSON frame, exactly as sockets receive it, or a control message. */
  data: string;
  /** W3C `traceparent` of the span that published it; set only while tracing is on (platform/obs/tracing.ts). */
  trace?: string;
}

/** `leaves` of an event that closes the group to everyone (a deleted community); longer than any user id. */
export const ALL_MEMBERS = '*'.repeat(65);

export type BusHandler = (message: BusMessage) => void;

export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Sends to every replica subscribed to message.topic. Resolves once handed to the transport. */
  publish(message: BusMessage): Promise<void>;
  /** Starts receiving a topic. Callers reference-count; the bus is told once per topic. */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  /** The one handler for every received message. */
  onMessage(handler: BusHandler): void;
  /** Called after the bus lost messages (a reconnect): subscribers catch up from storage. */
  onResync(handler: () => void): void;
  /** Whether the bus is connected now (for /readyz). */
  healthy(): boolean;
  close(): Promise<void>;
}
