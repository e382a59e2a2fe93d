import type { WebSocketLike } from '../../src/client/index.js';

/** A WebSocket the test drives by hand: it opens, delivers frames and closes when told to. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code?: number | undefined; reason?: string | undefined } | undefined;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor(
    readonly url: string,
    sockets: FakeSocket[],
  ) {
    sockets.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.(undefined);
  }

  receive(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server or the network closed it. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The last command sent of a type. */
  last(type: string): Record<string, unknown> {
    const found = this.sent.filter((f) => f.type === type).at(-1);
    if (!found) throw new Error(`no ${type} sent`);
    return found;
  }
}

/** A WebSocket constructor for the SDK's `WebSocket` option, keeping every socket it makes. */
export function fakeSockets() {
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string) {
      super(url, sockets);
    }
  };
  return {
    sockets,
    WebSocket,
    get current() {
      return sockets[sockets.length - 1]!;
    },
  };
}
