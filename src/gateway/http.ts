import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { z } from 'zod';
import type { Principal } from '../platform/auth/tokens.js';
import type { Logger } from '../platform/obs/logger.js';
import type { Tracing } from '../platform/obs/tracing.js';
import { AppError, errorStatus } from '../protocol/errors.js';
import type { httpReplies } from '../protocol/http-replies.js';
import { id, issueDetails } from '../protocol/limits.js';
import type { FailureReporter } from './failures.js';
import { addressKey } from './address-key.js';
import type { RateLimits } from './rate-limits.js';
import { pipeToResponse, requestBody, type ResponseState } from './uws-streams.js';

// A small typed router over uWS: each route declares its body schema and whether it needs a
// token; this file reads the body, checks size and JSON, and maps every failure to docs/protocol.md's
// error shape. Handlers never touch HttpResponse. Path parameters arrive by name, typed from the
// pattern: `'/v1/groups/:id/members/:userId'` hands the handler `{ id: string; userId: string }`.

export interface HttpReply {
  status: number;
  body?: unknown;
  /** Bytes to stream as the body (`size` of them), with `headers` (content-type among them). */
  stream?: { source: Readable; size: number };
  /** Preformatted text (Prometheus, or JSON already serialised, with its contentType) instead of `body`. */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** The `:name`s of a route pattern, as a union of names. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;
export type PathParams<P extends string> = { [K in ParamNames<P>]: string };

export interface RouteInput<B, P extends string = string> {
  principal: Principal;
  /** The raw `Authorization` header, for a route with its own credential (/metrics). */
  authorization: string;
  params: PathParams<P>;
  query: URLSearchParams;
  body: B;
  /** The client's address (clientAddress): what per-address limits count. */
  address: string;
  /** The request's `content-type`, `range` and `if-none-match` headers ('' when absent). */
  contentType: string;
  range: string;
  ifNoneMatch: string;
}

/** A route whose body is handed over as a stream (uploads), instead of parsed JSON. */
export interface StreamInput<P extends string = string> extends RouteInput<Readable, P> {
  /** The declared `content-length`, or undefined for a chunked body. */
  contentLength: number | undefined;
}

type Body<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface HttpDeps {
  maxBodyBytes: number;
  authenticate(authorization: string): Promise<Principal>;
  failures: FailureReporter;
  /** Each request logs through a child carrying its requestId and route. */
  logger: Logger;
  /** Per address (without a token, and all together) and per user, for every `/v1` route. */
  limits: Pick<RateLimits, 'httpAddress' | 'httpUser' | 'httpAddressAll'>;
  /** Proxies in front whose X-Forwarded-For entries are believed (TRUST_PROXY); 0: none. */
  trustProxy: number;
  /** Told of each answer: its route pattern (`GET /v1/groups/:id`, never the raw path), status, and seconds until its head. */
  answered?: (route: string, status: number, seconds: number) => void;
  /** Optional tracing: each request a span named by its route pattern. */
  tracing?: Tracing;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'del';
/** Statuses a route documents itself; the error shape's (docs/protocol.md §6) are every route's. 503: /readyz's own body. */
type DocStatus = 200 | 201 | 202 | 204 | 206 | 302 | 304 | 503;

/**
 * One answer in the API reference (docs/openapi.json): a reply of
 * src/protocol/http-replies.ts by name, a schema of its own, non-JSON content by its type, or null
 * for no body.
 */
export type ReplyDoc = keyof typeof httpReplies | z.ZodType | { contentType: string } | null;

/** What a route answers, by status, and the query string it reads (parsed with `query`). */
export type RouteDoc = { [S in DocStatus]?: ReplyDoc } & { query?: z.ZodType };

/** A registered route as the API reference describes it (src/gateway/api-docs/openapi.ts). */
export interface RouteRecord {
  method: string;
  pattern: string;
  access: 'public' | 'authed' | 'streamed';
  body: z.ZodType | undefined;
  doc: RouteDoc;
  /** The feature that registered it (FeatureModule.name), or 'operations'. */
  tag: string;
}
const methodName: Record<Method, string> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' };

const statusText: Record<number, string> = {
  200: '200 OK',
  206: '206 Partial Content',
  304: '304 Not Modified',
  302: '302 Found',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  416: '416 Range Not Satisfiable',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export class HttpRouter {
  /** Every route registered, in order: what the API reference is built from. */
  readonly routes: RouteRecord[] = [];
  private tag = 'operations';

  constructor(
    private readonly app: TemplatedApp,
    private readonly deps: HttpDeps,
  ) {}

  /** Registers a feature's routes under its name (their tag in the API reference). */
  feature(name: string, register: (router: HttpRouter) => void): void {
    this.tag = name;
    try {
      register(this);
    } finally {
      this.tag = 'operations';
    }
  }

  /** A route that needs no token (sign-up, health). */
  public<P extends string, S extends z.ZodType | undefined>(
    method: Method,
    pattern: P,
    bodySchema: S,
    doc: RouteDoc,
    handler: (input: Omit<RouteInput<Body<S>, P>, 'principal'>) => Promise<HttpReply> | HttpReply,
  ): void {
    this.record(method, pattern, bodySchema, 'public', doc);
    this.register(method, pattern, bodySchema, false, handler as never);
  }

  /** A route that needs a valid bearer token. */
  authed<P extends string, S extends z.ZodType | undefined>(
    method: Method,
    pattern: P,
    bodySchema: S,
    doc: RouteDoc,
    handler: (input: RouteInput<Body<S>, P>) => Promise<HttpReply>,
  ): void {
    this.record(method, pattern, bodySchema, 'authed', doc);
    this.register(method, pattern, bodySchema, true, handler as never);
  }

  /**
   * A route that needs a token and takes its body as a stream of at most `maxBytes` (checked
   * against content-length before anything is read; the handler counts what arrives).
   */
  streamed<P extends string>(pattern: P, maxBytes: number, doc: RouteDoc, handler: (input: StreamInput<P>) => Promise<HttpReply>): void {
    this.record('post', pattern, undefined, 'streamed', doc);
    this.register('post', pattern, undefined, true, handler as never, maxBytes);
  }

  private record(method: Method, pattern: string, body: z.ZodType | undefined, access: RouteRecord['access'], doc: RouteDoc): void {
    this.routes.push({ method: methodName[method], pattern, access, body, doc, tag: this.tag });
  }

  /** Answers every unmatched request with 404 in the protocol's error shape. */
  fallback(): void {
    this.app.any('/*', (res) => {
      sendReply(res, errorReply(new AppError('not_found', 'no such endpoint')));
    });
  }

  private register(
    method: Method,
    pattern: string,
    bodySchema: z.ZodType | undefined,
    needsAuth: boolean,
    handler: (input: RouteInput<unknown>) => Promise<HttpReply> | HttpReply,
    streamMaxBytes?: number,
  ): void {
    // uWS hands parameters by position: their names come from the pattern, once.
    const names = pattern
      .split('/')
      .filter((segment) => segment.startsWith(':'))
      .map((segment) => segment.slice(1));
    const route = `${methodName[method]} ${pattern}`;
    this.app[method](pattern, (res, req) => {
      // req is only valid until the first await: copy what we need now.
      const params: Record<string, string> = {};
      for (const [i, name] of names.entries()) params[name] = decodeParam(req.getParameter(i) ?? '');
      const query = new URLSearchParams(req.getQuery() ?? '');
      const authorization = req.getHeader('authorization');
      const contentLengthHeader = req.getHeader('content-length');
      const contentLength = Number(contentLengthHeader || 0);
      const contentType = req.getHeader('content-type');
      const range = req.getHeader('range');
      const ifNoneMatch = req.getHeader('if-none-match');
      // getHeader sees the first; a second, different length makes the body's end ambiguous
      // (request smuggling behind a proxy that reads the other one): refused, connection closed.
      const lengths = new Set<string>();
      req.forEach((key, value) => {
        if (key === 'content-length') lengths.add(value.trim());
      });
      if (lengths.size > 1) {
        sendReply(res, errorReply(new AppError('bad_request', 'conflicting content-length headers')), true);
        return;
      }
      const address = clientAddress(res, req, this.deps.trustProxy);
      const state: ResponseState = { aborted: false };
      res.onAborted(() => {
        state.aborted = true;
        state.onAbort?.();
      });
      const stream =
        streamMaxBytes === undefined
          ? undefined
          : { maxBytes: streamMaxBytes, body: requestBody(res, state), declared: contentLengthHeader ? contentLength : undefined };
      const request = {
        route,
        params,
        query,
        authorization,
        contentLength,
        contentType,
        range,
        ifNoneMatch,
        address,
        method,
        bodySchema,
        needsAuth,
        handler,
        stream,
      };
      const { tracing } = this.deps;
      if (!tracing?.on) {
        void this.handle(res, state, request);
        return;
      }
      const attributes = { 'http.request.method': methodName[method], 'http.route': pattern };
      void tracing.span(route, { kind: 'server', attributes }, (span) =>
        this.handle(res, state, request).then((status) => span.set({ 'http.response.status_code': status ?? 0 })),
      );
    });
  }

  private async handle(
    res: HttpResponse,
    state: ResponseState,
    r: {
      route: string;
      params: Record<string, string>;
      query: URLSearchParams;
      authorization: string;
      contentLength: number;
      contentType: string;
      range: string;
      ifNoneMatch: string;
      stream: { maxBytes: number; body: Readable; declared: number | undefined } | undefined;
      address: string;
      method: Method;
      bodySchema: z.ZodType | undefined;
      needsAuth: boolean;
      handler: (input: RouteInput<unknown>) => Promise<HttpReply> | HttpReply;
    },
  ): Promise<number | undefined> {
    const started = performance.now();
    // Made only when a line is written: most requests log nothing.
    let log: Logger | undefined;
    const requestLog = () => (log ??= this.deps.logger.child({ requestId: randomUUID(), route: r.route }));
    let reply: HttpReply;
    try {
      // A DELETE has a body only where its route declares one (DELETE /v1/me's confirmation).
      const hasBody = r.method !== 'get' && (r.method !== 'del' || r.bodySchema !== undefined);
      // Health checks and metrics come from load balancers and scrapers, not clients.
      const limited = r.route.includes(' /v1/');
      // Members behind one address (a school's Wi-Fi, a carrier's CGNAT) are counted each by their
      // account; their address by a backstop, and by its own limit only without a valid token.
      const withToken = r.needsAuth && r.authorization !== '';
      if (limited) this.deps.limits.httpAddressAll(r.address);
      if (limited && !withToken) this.deps.limits.httpAddress(r.address);
      const maxBytes = r.stream?.maxBytes ?? this.deps.maxBodyBytes;
      if (r.contentLength > maxBytes) throw new AppError('too_large', `body over ${maxBytes} bytes`);
      const raw = hasBody && !r.stream ? await readBody(res, this.deps.maxBodyBytes) : '';
      const principal = r.needsAuth ? await authenticateCounted(this.deps, r, limited && withToken) : (undefined as never);
      if (limited && principal) this.deps.limits.httpUser(principal.userId);
      const body = r.stream ? r.stream.body : r.bodySchema ? parseBody(raw, r.bodySchema) : undefined;
      reply = await r.handler({
        principal,
        authorization: r.authorization,
        params: r.params,
        query: r.query,
        body,
        address: r.address,
        contentType: r.contentType,
        range: r.range,
        ifNoneMatch: r.ifNoneMatch,
        ...(r.stream ? { contentLength: r.stream.declared } : {}),
      });
    } catch (err) {
      // The client went away mid-request (an upload cut off): nobody to answer, nothing broken.
      if (state.aborted) {
        requestLog().debug('request aborted by the client', { err: err instanceof Error ? err.message : String(err) });
        return undefined;
      }
      reply = errorReply(this.deps.failures.toAppError(err, requestLog));
    }
    if (this.deps.logger.enabled('debug')) {
      requestLog().debug('http request', {
        status: reply.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        aborted: state.aborted,
      });
    }
    if (state.aborted) {
      reply.stream?.source.destroy();
      return undefined;
    }
    this.deps.answered?.(r.route, reply.status, (performance.now() - started) / 1000);
    if (reply.stream) {
      const { source, size } = reply.stream;
      await pipeToResponse(res, state, source, size, () => writeHead(res, reply));
      return reply.status;
    }
    // A streamed body not read to its end leaves the connection mid-request: close it after the answer.
    const unread = r.stream !== undefined && !r.stream.body.readableEnded;
    if (unread) r.stream?.body.destroy();
    sendReply(res, reply, unread);
    return reply.status;
  }
}

/** A token that fails counts against its address like a request without one (`countFailure`). */
async function authenticateCounted(deps: HttpDeps, r: { authorization: string; address: string }, countFailure: boolean) {
  try {
    return await deps.authenticate(r.authorization);
  } catch (err) {
    if (countFailure) deps.limits.httpAddress(r.address);
    throw err;
  }
}

export const errorBody = (error: AppError) => ({
  error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
});

/** An error as an HTTP answer: its status, its body, and `Retry-After` when it says how long to wait. */
export function errorReply(error: AppError): HttpReply {
  const reply: HttpReply = { status: errorStatus[error.code], body: errorBody(error) };
  const retryAfterMs = error.code === 'rate_limited' ? Number(error.details?.retryAfterMs) : Number.NaN;
  if (retryAfterMs > 0) reply.headers = { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  return reply;
}

/** On every API answer: no type sniffing, no caching (answers carry tokens and private data), no framing. */
const apiHeaders: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['cache-control', 'no-store'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
];

/** Status and headers: the reply's own, and the API's defaults for those it does not set. */
function writeHead(res: HttpResponse, reply: HttpReply): void {
  res.writeStatus(statusText[reply.status] ?? String(reply.status));
  const own = reply.headers ?? {};
  for (const [name, value] of apiHeaders) if (!(name in own)) res.writeHeader(name, value);
  for (const [name, value] of Object.entries(own)) res.writeHeader(name, value);
}

export function sendReply(res: HttpResponse, reply: HttpReply, closeConnection = false): void {
  res.cork(() => {
    writeHead(res, reply);
    if (reply.status === 204 || reply.status === 304) {
      res.end(undefined, closeConnection);
      return;
    }
    if (reply.text !== undefined) {
      res.writeHeader('content-type', reply.contentType ?? 'text/plain; charset=utf-8');
      res.end(reply.text, closeConnection);
      return;
    }
    res.writeHeader('content-type', 'application/json');
    res.end(JSON.stringify(reply.body ?? {}), closeConnection);
  });
}

function parseBody<S extends z.ZodType>(raw: string, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = raw.length === 0 ? {} : JSON.parse(raw);
  } catch {
    throw new AppError('bad_request', 'body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AppError('bad_request', 'invalid body', issueDetails(parsed.error));
  return parsed.data;
}

/** Collects the body, refusing it as soon as it passes the limit (chunked bodies included). */
function readBody(res: HttpResponse, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) return;
      size += chunk.byteLength;
      if (size > limit) {
        failed = true;
        reject(new AppError('too_large', `body over ${limit} bytes`));
        return;
      }
      // The ArrayBuffer is neutered after this callback: copy it.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * A percent-decoded path parameter; malformed encoding (`%ZZ`) cannot name anything, so it
 * becomes a value no id schema accepts. decodeURIComponent would throw inside the uWS handler,
 * which terminates the process.
 */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return '';
  }
}

/**
 * The client's address, read before the first await. Without TRUST_PROXY it is the peer's; with
 * it, each of the `trustedHops` proxies in front appended the address it saw to X-Forwarded-For
 * (every such header, in order), so the entry `trustedHops` from the right is the client as the
 * outermost trusted proxy saw it; entries left of it are whatever the client wrote. Returned as
 * the key per-address limits count (addressKey: IPv6 by its /64).
 */
export function clientAddress(res: HttpResponse, req: HttpRequest, trustedHops: number): string {
  const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  if (trustedHops === 0) return addressKey(peer);
  const entries: string[] = [];
  req.forEach((name, value) => {
    if (name === 'x-forwarded-for') for (const entry of value.split(',')) if (entry.trim()) entries.push(entry.trim());
  });
  return addressKey(entries[Math.max(0, entries.length - trustedHops)] ?? peer);
}

/** Pulls the token out of an `Authorization: Bearer …` header. */
export function bearerToken(authorization: string): string {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw new AppError('unauthorized', 'missing bearer token');
  return match[1]!;
}

/** Parses a query string with a zod schema; failures are bad_request. */
export function parseQuery<S extends z.ZodType>(query: URLSearchParams, schema: S): z.output<S> {
  const parsed = schema.safeParse(Object.fromEntries(query));
  if (!parsed.success) throw new AppError('bad_request', 'invalid query', issueDetails(parsed.error));
  return parsed.data;
}

/** Parses one path parameter with a zod schema; a malformed id names nothing, so not_found. */
export function parseParam<S extends z.ZodType>(value: string, schema: S, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('not_found', `${what} not found`);
  return parsed.data;
}

/** An id path parameter (`:id`, `:userId`, `:code`…); `what` names it in the not_found message. */
export const idParam = (value: string, what: string) => parseParam(value, id, what);
