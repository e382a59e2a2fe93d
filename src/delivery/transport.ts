import type { Disconnect } from '../protocol/errors.js';

/**
 * What delivery needs from the socket layer (the gateway's uWS adapter implements it). `S` is the
 * transport's own socket handle; delivery never looks inside it. Topics are delivery's names
 * (topics.ts): the transport fans a topic's bytes out to every socket subscribed to it.
 */
export interface SocketTransport<S> {
  subscribe(socket: S, topic: string): void;
  unsubscribe(socket: S, topic: string): void;
  /** Sends `bytes` to every socket subscribed to `topic`, except `origin` when given. */
  publish(topic: string, bytes: string, origin?: S): void;
  /** Sends one frame to one socket, or several in one write. */
  send(socket: S, bytes: string | readonly string[]): void;
  /** Ends the socket with the disconnect's close code and reason. */
  close(socket: S, reason: Disconnect): void;
  /** Bytes queued for the socket and not yet written to the kernel. */
  bufferedAmount(socket: S): number;
  /** True when anything was sent since the previous call: only then can a socket's buffer have grown. */
  takeActivity(): boolean;
}
