import WebSocket from 'ws';

// A test client over a real socket: records every frame, and waits for frames by predicate.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = Record<string, any>;

export interface CloseInfo {
  code: number;
  reason: string;
}

export class TestSocket {
  readonly frames: Frame[] = [];
  readonly closed: Promise<CloseInfo>;
  /** How the socket closed, once it has. */
  closeInfo: CloseInfo | undefined;
  private waiters: { predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      }),
    );
  }

  /** Resolves with the first frame (already received or coming) that matches. */
  next(predicate: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const seen = this.frames.slice(from).find(predicate);
    if (seen) return Promise.resolve(seen);
    // Made here, so a timeout names the caller that waited, not the timer.
    const timeout = new Error(`no matching frame in ${timeoutMs} ms`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        timeout.message += `; got ${JSON.stringify(this.frames.slice(-5))}; closed ${JSON.stringify(this.closeInfo ?? null)}`;
        reject(timeout);
      }, timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a command with a fresh id and resolves with the reply (ack, error or typed reply). */
  request(command: Frame, timeoutMs = 5000): Promise<Frame> {
    const id = command.id ?? `r${this.nextId++}`;
    const from = this.frames.length;
    this.send({ ...command, id });
    return this.next((f) => f.re === id, timeoutMs, from);
  }

  /** The `event` frames received for a group, in arrival order. */
  events(group: string): Frame[] {
    return this.frames.filter((f) => f.type === 'event' && f.group === group);
  }

  /** Waits until `count` events of the group have arrived. */
  async waitForEvents(group: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events(group).length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.events(group).length}/${count} events of ${group}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.events(group);
  }

  close(code?: number): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Opens a socket with the token in the Authorization header and waits for `ready`. */
export async function connect(wsUrl: string, token: string): Promise<TestSocket> {
  const socket = await open(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await socket.next((f) => f.type === 'ready');
  return socket;
}

/** Opens a socket without authenticating (for the auth frame and error paths). */
export function open(wsUrl: string, options: WebSocket.ClientOptions = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, options);
    const socket = new TestSocket(ws);
    ws.once('open', () => resolve(socket));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}
