import type { Config } from '../config.js';
import type { Logger } from './logger.js';

// Optional OpenTelemetry tracing. The hot paths (a send, a delivery, a statement, an HTTP request)
// see only this interface and check `on` once; the SDK behind it (tracing-otel.ts) is imported
// only when an exporter endpoint is set, so with tracing off none of it is even loaded.

/** Where a piece of work was asked for, carried across a queue (opaque outside tracing-otel.ts). */
export type TraceContext = { readonly __traceContext: never };

export type SpanKind = 'internal' | 'server' | 'producer' | 'consumer';
export type SpanAttributes = Record<string, string | number | boolean>;

/** What work can add to its span while it runs (an HTTP status). */
export interface SpanNote {
  set(attributes: SpanAttributes): void;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  /** The parent; the active span when unset. */
  parent?: TraceContext;
  /** No span (work runs as is) when there is no parent: for work that belongs to a trace only when one is under way. */
  onlyInTrace?: boolean;
}

export interface Tracing {
  /** False when tracing is off: callers check this and nothing else, and never call the rest then. */
  readonly on: boolean;
  /** Runs `work` in a new span (ended when its promise settles; a throw marks it failed). */
  span<T>(name: string, options: SpanOptions, work: (note: SpanNote) => T): T;
  /** The active context, for work a queue will do later on its behalf. */
  active(): TraceContext;
  /** Runs `work` with `parent` active (so spans it makes are its children). */
  within<T>(parent: TraceContext | undefined, work: () => T): T;
  /** W3C `traceparent` of the active span when it is sampled (carried in bus messages), else undefined. */
  traceparent(): string | undefined;
  /** The remote parent a received `traceparent` names; undefined when malformed. */
  remote(traceparent: string): TraceContext | undefined;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Tracing off: nothing is recorded; only `on` is ever read on a hot path. */
export const tracingOff: Tracing = {
  on: false,
  span: (_name, _options, work) => work(noNote),
  active: () => undefined as unknown as TraceContext,
  within: (_parent, work) => work(),
  traceparent: () => undefined,
  remote: () => undefined,
  shutdown: async () => {},
};

const noNote: SpanNote = { set() {} };

/** Tracing as configured: off (and no SDK loaded) unless an OTLP endpoint is set. */
export async function startTracing(config: Config['tracing'], logger: Logger): Promise<Tracing> {
  if (!config.endpoint) return tracingOff;
  const { startOtel } = await import('./tracing-otel.js');
  const tracing = startOtel(config, logger);
  logger.info('tracing on', { endpoint: config.endpoint, service: config.serviceName, sampleRatio: config.sampleRatio });
  return tracing;
}
