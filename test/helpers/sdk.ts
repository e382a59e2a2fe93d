import WebSocket from 'ws';
import type { BanyanClient, ClientOptions, GroupEvent, WebSocketLike } from '../../src/client/index.js';
import { waitFor } from './bus-contract.js';

/**
 * A network between an SDK client and a real server that tests can break: every socket the
 * client opens is a real `ws` socket, which the test can cut, and whose incoming frames it can
 * swallow (a lost ack) before the client sees them.
 */
export class FaultyNetwork {
  readonly links: Link[] = [];
  /** Frames for which this returns true are dropped on their way to the client. */
  dropIncoming: ((frame: string, link: Link) => boolean) | undefined;

  readonly WebSocket = ((network: FaultyNetwork) =>
    class {
      constructor(url: string) {
        // biome-ignore lint/correctness/noConstructorReturn: `new WebSocket(url)` in the SDK must yield this network's Link.
        return new Link(url, network);
      }
    } as unknown as ClientOptions['WebSocket'])(this);

  /** The link in use: the last one opened. */
  get current(): Link {
    return this.links[this.links.length - 1]!;
  }

  /** Cuts the current connection the hard way (no close frame), as a dying network does. */
  cut(): void {
    this.current.ws.terminate();
  }
}

export class Link implements WebSocketLike {
  readonly ws: WebSocket;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor(url: string, network: FaultyNetwork) {
    network.links.push(this);
    this.ws = new WebSocket(url);
    this.ws.on('open', () => this.onopen?.(undefined));
    this.ws.on('message', (data) => {
      const text = data.toString();
      if (network.dropIncoming?.(text, this)) return;
      this.onmessage?.({ data: text });
    });
    this.ws.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString() }));
    this.ws.on('error', () => this.onerror?.(undefined));
  }

  get readyState() {
    return this.ws.readyState;
  }

  send(data: string) {
    this.ws.send(data);
  }

  close(code?: number, reason?: string) {
    this.ws.close(code, reason);
  }
}

/** Records what a client hands the app. */
export function record(client: BanyanClient) {
  const events: GroupEvent[] = [];
  client.on('event', (e) => events.push(e));
  return {
    events,
    of: (group: string) => events.filter((e) => e.group === group),
    messages: (group: string) => events.filter((e) => e.group === group && e.kind === 'message'),
    waitFor: (what: string, check: () => boolean, timeoutMs = 10_000) => waitFor(check, what, timeoutMs),
  };
}

export const seqsOf = (events: GroupEvent[]) => events.map((e) => e.seq);
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
