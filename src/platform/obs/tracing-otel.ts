import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind as OtelSpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { parseTraceParent } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Config } from '../config.js';
import type { Logger } from './logger.js';
import type { SpanKind, SpanNote, SpanOptions, TraceContext, Tracing } from './tracing.js';

// Loaded by tracing.ts only when tracing is on. Spans are made by hand where Banyan's own code
// runs (no auto-instrumentation covers uWS or postgres.js); the exporter speaks OTLP/HTTP with
// JSON bodies, which any OpenTelemetry collector accepts.

const kinds: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  server: OtelSpanKind.SERVER,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
};

/** One context manager per process (several apps may run in one test process). */
let contextManagerSet = false;

export function startOtel(config: Config['tracing'], logger: Logger): Tracing {
  if (!contextManagerSet) {
    // Async-local context: a span started in a handler is the parent of what its awaits start.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const exporter = new OTLPTraceExporter({ url: tracesUrl(config.endpoint!), headers: config.headers });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('banyan');
  const asContext = (c: TraceContext | undefined): Context | undefined => c as unknown as Context | undefined;

  return {
    on: true,
    span<T>(name: string, options: SpanOptions, work: (note: SpanNote) => T): T {
      const parent = asContext(options.parent) ?? context.active();
      if (options.onlyInTrace && !trace.getSpan(parent)) return work(noNote);
      const span = tracer.startSpan(name, { kind: kinds[options.kind ?? 'internal'], attributes: options.attributes }, parent);
      return context.with(trace.setSpan(parent, span), () => runInSpan(span, work));
    },
    active: () => context.active() as unknown as TraceContext,
    within: (parent, work) => (parent ? context.with(asContext(parent)!, work) : work()),
    traceparent() {
      const spanContext = trace.getSpan(context.active())?.spanContext();
      if (!spanContext || !isSpanContextValid(spanContext) || !(spanContext.traceFlags & TraceFlags.SAMPLED)) return undefined;
      return `00-${spanContext.traceId}-${spanContext.spanId}-01`;
    },
    remote(traceparent) {
      const spanContext = parseTraceParent(traceparent);
      return spanContext ? (trace.setSpanContext(ROOT_CONTEXT, { ...spanContext, isRemote: true }) as unknown as TraceContext) : undefined;
    },
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => logger.warn('tracing: last export failed', { err }));
    },
  };
}

/** Runs work in its span: ends the span when work returns or its promise settles, marking a failure. */
function runInSpan<T>(span: Span, work: (note: SpanNote) => T): T {
  const note: SpanNote = { set: (attributes) => span.setAttributes(attributes) };
  const failed = (err: unknown) => {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  let result: T;
  try {
    result = work(note);
  } catch (err) {
    failed(err);
    throw err;
  }
  if (result instanceof Promise) {
    result.then(
      () => span.end(),
      (err: unknown) => failed(err),
    );
  } else span.end();
  return result;
}

const noNote: SpanNote = { set() {} };

/** OTLP/HTTP's traces path under the collector's base URL (what OTEL_EXPORTER_OTLP_ENDPOINT names). */
function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
