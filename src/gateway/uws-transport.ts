import type { TemplatedApp } from 'uWebSockets.js';
import type { SocketTransport } from '../delivery/transport.js';
import type { Disconnect } from '../protocol/errors.js';
import type { Socket } from './socket-state.js';

/**
 * uWS topics hold a subscriber only while it has one: leaving its last topic frees it and drops a
 * frame published to that topic but not yet flushed (the event that removed the user). A topic
 * nobody publishes to, joined by every socket at open, keeps every group topic from being the last.
 */
export const ANCHOR_TOPIC = 'anchor';

/** Delivery's SocketTransport over uWS: topics are uWS topics, so fan-out runs in C++ per socket. */
export class UwsTransport implements SocketTransport<Socket> {
  private activity = false;

  constructor(private readonly app: TemplatedApp) {}

  subscribe(ws: Socket, topic: string): void {
    ws.subscribe(topic);
  }

  unsubscribe(ws: Socket, topic: string): void {
    if (ws.getUserData().state.phase !== 'closed') ws.unsubscribe(topic);
  }

  publish(topic: string, bytes: string, origin?: Socket): void {
    this.activity = true;
    if (origin && origin.getUserData().state.phase !== 'closed') origin.publish(topic, bytes);
    else this.app.publish(topic, bytes);
  }

  send(ws: Socket, bytes: string | readonly string[]): void {
    if (ws.getUserData().state.phase === 'closed') return;
    this.activity = true;
    // Corked: the frames leave in one write (outside a uWS handler, each send is otherwise its own).
    ws.cork(() => {
      if (typeof bytes === 'string') ws.send(bytes);
      else for (const frame of bytes) ws.send(frame);
    });
  }

  close(ws: Socket, reason: Disconnect): void {
    if (ws.getUserData().state.phase === 'closed') return;
    ws.end(reason.closeCode, reason.message);
  }

  bufferedAmount(ws: Socket): number {
    return ws.getBufferedAmount();
  }

  takeActivity(): boolean {
    const was = this.activity;
    this.activity = false;
    return was;
  }
}
