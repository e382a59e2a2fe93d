import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

// A webhook receiver on 127.0.0.1 that checks each request's Standard Webhooks signature with
// the secret it was given, records what verified, and answers as told (per path), or, under a
// prefix told to hang, accepts the request and never answers (a stalling endpoint).

export interface Received {
  path: string;
  id: string;
  body: Record<string, unknown>;
  verified: boolean;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  private secrets = new Map<string, string>();
  private answers = new Map<string, () => { status: number; headers?: Record<string, string> }>();
  private hanging: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = receiver!.handle(req.url ?? '', req.headers as Record<string, string>, Buffer.concat(chunks).toString('utf8'));
        if (!answer) return; // hangs: the connection stays open, unanswered, until the sender gives up
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  /** Requests to `path` are verified with `secret` (as POST …/webhooks answered it). */
  expect(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  answer(path: string, fn: () => { status: number; headers?: Record<string, string> }): void {
    this.answers.set(path, fn);
  }

  /** Requests to paths starting with `prefix` are read and never answered. */
  hang(prefix: string): void {
    this.hanging.push(prefix);
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(path: string, headers: Record<string, string>, body: string) {
    const secret = this.secrets.get(path);
    let verified = false;
    try {
      if (secret) {
        new Webhook(secret).verify(body, headers);
        verified = true;
      }
    } catch {
      verified = false;
    }
    this.received.push({ path, id: headers['webhook-id'] ?? '', body: parsed(body), verified });
    if (this.hanging.some((prefix) => path.startsWith(prefix))) return undefined;
    return this.answers.get(path)?.() ?? { status: 200 };
  }
}

/** A webhook's JSON body; anything else (an encrypted push sent here) as an empty object. */
function parsed(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}
