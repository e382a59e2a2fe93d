import pino, { type DestinationStream, type Logger as Pino } from 'pino';
import type { Config } from '../config.js';

// JSON lines through pino: one object per line (`time` ISO, `level` as a word, `msg`, then the
// fields), debug/info on stdout and warn/error on stderr, easy for any log shipper. For reading
// by eye in development: `npm start 2>&1 | npx pino-pretty`.
//
// The call sites keep the `(msg, fields?)` order over pino's `(fields, msg)`: the message leads
// what a reader scans, and the adapter is one line per level.

export type LogLevel = Config['server']['logLevel'];
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether a level would be written: skip building costly fields for a line nobody reads. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** A logger whose every line carries `bindings` (a socket's connectionId and userId, a request's requestId). */
  child(bindings: LogFields): Logger;
}

export interface LogStreams {
  /** debug and info lines; stdout unless a test captures them. */
  out: DestinationStream;
  /** warn and error lines; stderr unless a test captures them. */
  err: DestinationStream;
}

/** Errors keep their name next to pino's type, message (with causes), stack and own fields (`code`, `details`). */
const serializeError = (value: unknown) => (value instanceof Error ? { name: value.name, ...pino.stdSerializers.err(value) } : value);

export function createLogger(level: LogLevel, streams?: LogStreams): Logger {
  // Synchronous writes, as before: `process.exit` right after a line must not lose it.
  const { out, err } = streams ?? { out: pino.destination({ dest: 1, sync: true }), err: pino.destination({ dest: 2, sync: true }) };
  const root = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    // dedupe: each line goes only to the stream with the highest level it reaches.
    pino.multistream(
      [
        { level: 'debug', stream: out },
        { level: 'warn', stream: err },
      ],
      { dedupe: true },
    ),
  );
  return adapt(root);
}

function adapt(p: Pino): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    enabled: (lvl) => p.isLevelEnabled(lvl),
    child: (bindings) => adapt(p.child(bindings)),
  };
}
