import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ece from 'http_ece';
import { importJWK, jwtVerify } from 'jose';

// A local push service: the receiving side of RFC 8030 on 127.0.0.1. Each push must carry a
// valid VAPID JWT (RFC 8292) for this origin, and its body must decrypt (RFC 8291 aes128gcm) with
// the subscription's private key and auth secret; a push that fails either is answered 400 and
// recorded in `rejected`, so a test fails if encryption or VAPID is wrong. Answers 201 unless
// told otherwise (410, 429, 500 … per subscription or for all).

export interface Delivered {
  subscription: string;
  payload: Record<string, unknown>;
  topic: string | undefined;
  urgency: string | undefined;
  ttl: string | undefined;
  at: number;
}

export interface Subscriber {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  ecdh: ECDH;
  auth: Buffer;
}

type Answer = { status: number; retryAfter?: string };

export class LocalPushService {
  readonly delivered: Delivered[] = [];
  readonly rejected: { subscription: string; reason: string }[] = [];
  /** Requests answered with something other than 201 (status per request). */
  readonly refused: { subscription: string; status: number }[] = [];
  private readonly subscribers = new Map<string, Subscriber>();
  private answerFor: (subscription: string) => Answer = () => ({ status: 201 });
  vapidPublicKey: string | undefined;
  private readonly keys = new Map<string, Awaited<ReturnType<typeof importJWK>>>();
  /** Answers wait this long (a slow push service). */
  delayMs = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<LocalPushService> {
    let service: LocalPushService | undefined;
    const server = createServer((req, res) => {
      service!
        .handle(req)
        .then((answer) => {
          res.writeHead(answer.status, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
          res.end();
        })
        // A sender killed mid-request (kill -9 tests): nothing to answer.
        .catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    service = new LocalPushService(server, `http://127.0.0.1:${port}`);
    return service;
  }

  /** The application server key the pushes must be signed with (GET /v1/push/vapid-key). */
  expectVapidKey(publicKey: string): void {
    this.vapidPublicKey = publicKey;
  }

  /** A new browser subscription: a P-256 key pair and an auth secret held here. */
  subscribe(): Subscriber {
    const id = randomBytes(6).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const subscriber = {
      id,
      endpoint: `${this.url}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
      ecdh,
      auth,
    };
    this.subscribers.set(id, subscriber);
    return subscriber;
  }

  /** How to answer from now on (e.g. `() => ({status: 500})`); `undefined` restores 201. */
  answer(fn?: (subscription: string) => Answer): void {
    this.answerFor = fn ?? (() => ({ status: 201 }));
  }

  deliveredTo(subscription: string): Delivered[] {
    return this.delivered.filter((d) => d.subscription === subscription);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async handle(req: IncomingMessage): Promise<Answer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const match = /^\/push\/([0-9a-f]+)$/.exec(req.url ?? '');
    const subscriber = match ? this.subscribers.get(match[1]!) : undefined;
    if (req.method !== 'POST' || !subscriber) return { status: 404 };
    const reject = (reason: string): Answer => {
      this.rejected.push({ subscription: subscriber.id, reason });
      return { status: 400 };
    };
    // RFC 8292: Authorization: vapid t=<JWT>, k=<application server key>
    const auth = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
    if (!auth) return reject(`no VAPID authorization: ${req.headers.authorization}`);
    const [, jwt, k] = auth as unknown as [string, string, string];
    if (this.vapidPublicKey && k !== this.vapidPublicKey) return reject('VAPID key is not the server key');
    try {
      let key = this.keys.get(k);
      if (!key) {
        const point = Buffer.from(k, 'base64url');
        key = await importJWK(
          { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') },
          'ES256',
        );
        this.keys.set(k, key);
      }
      const { payload } = await jwtVerify(jwt, key, { audience: this.url, algorithms: ['ES256'] });
      if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) return reject('VAPID sub missing');
      if (!payload.exp || payload.exp > Date.now() / 1000 + 24 * 3600) return reject('VAPID exp missing or over 24 h');
    } catch (err) {
      return reject(`VAPID JWT invalid: ${(err as Error).message}`);
    }
    if (req.headers['content-encoding'] !== 'aes128gcm') return reject(`content-encoding ${req.headers['content-encoding']}`);
    if (req.headers.ttl === undefined) return reject('no TTL');
    let payload: Record<string, unknown>;
    try {
      const plain = ece.decrypt(body, {
        version: 'aes128gcm',
        privateKey: subscriber.ecdh,
        authSecret: subscriber.auth.toString('base64url'),
      });
      if (plain.length > 3072) return reject(`payload ${plain.length} bytes`);
      payload = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      return reject(`payload does not decrypt: ${(err as Error).message}`);
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const answer = this.answerFor(subscriber.id);
    if (answer.status === 201) {
      this.delivered.push({
        subscription: subscriber.id,
        payload,
        topic: req.headers.topic as string | undefined,
        urgency: req.headers.urgency as string | undefined,
        ttl: req.headers.ttl as string | undefined,
        at: Date.now(),
      });
    } else {
      this.refused.push({ subscription: subscriber.id, status: answer.status });
    }
    return answer;
  }
}
