import type { Config } from './config.js';
import type { Db } from './db/connect.js';
import type { Publisher } from '../delivery/publisher.js';
import type { Logger } from './obs/logger.js';
import { type Clock, systemClock } from './clock.js';
import type { Metrics } from './obs/metrics.js';
import type { Tracing } from './obs/tracing.js';

/** What the domain needs from the outside world; built once in app.ts. */
export interface ChatDeps {
  db: Db;
  /** For session starts' prepared reads (hot-reads.ts); see Storage.reads. */
  reads: Db;
  publisher: Publisher;
  logger: Logger;
  metrics: Metrics;
  /** Optional tracing (platform/obs/tracing.ts); off when unset. */
  tracing?: Tracing;
  config: ChatConfig;
  /** Told after messages were stored: their notifications are owed (the local worker starts at once). */
  notificationsOwed?: () => void;
  /** Time for timers and JS-side time checks (expiry is due on the database's clock); the system clock when unset. */
  clock?: Clock;
}

/** The time now by the domain's clock (milliseconds since the epoch). */
export const nowOf = (deps: Pick<ChatDeps, 'clock'>): number => (deps.clock ?? systemClock).now();

/** The sections of Config the features read (each its own: `config.messages`, `config.groups`, …). */
export type ChatConfig = Pick<
  Config,
  | 'auth'
  | 'webauthn'
  | 'phone'
  | 'storage'
  | 'messages'
  | 'groups'
  | 'communities'
  | 'privacy'
  | 'events'
  | 'notifications'
  | 'outbound'
  | 'search'
  | 'myData'
>;
