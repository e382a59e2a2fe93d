import type { Db } from './db/connect.js';
import type { Publisher } from '../delivery/publisher.js';
import type { Logger } from './obs/logger.js';
import { type Clock, systemClock } from './clock.js';
import type { Metrics } from './obs/metrics.js';

/** What the domain needs from the outside world; built once in app.ts. */
export interface ChatDeps {
  db: Db;
  /** For session starts' prepared reads (hot-reads.ts); see Storage.reads. */
  reads: Db;
  publisher: Publisher;
  logger: Logger;
  metrics: Metrics;
  limits: ChatLimits;
  /** Told after messages were stored: their notifications are owed (the local worker starts at once). */
  notificationsOwed?: () => void;
  /** Time for timers and JS-side time checks (expiry is due on the database's clock); the system clock when unset. */
  clock?: Clock;
}

/** The time now by the domain's clock (milliseconds since the epoch). */
export const nowOf = (deps: Pick<ChatDeps, 'clock'>): number => (deps.clock ?? systemClock).now();

export interface ChatLimits {
  editWindowS: number;
  syncLimit: number;
  /** Bytes of events (or messages) in one sync or history answer; at least one always goes. */
  maxReplyBytes: number;
  /** Each user's rows read by sync and history per second, and the burst (per replica). */
  readBudgetRowsPerS: number;
  readBudgetBurstRows: number;
  readBudgetBytesPerS: number;
  readBudgetBurstBytes: number;
  maxGroupMembers: number;
  maxCommunityGroups: number;
  tokenTtlS: number;
  /** `groupAdd` of users who never chose (DEFAULT_GROUP_ADD; docs/protocol.md §8 "Privacy and safety" says `shared`). */
  defaultGroupAdd: 'everyone' | 'shared' | 'nobody';
  /** At most one reaction tally per message of an announcement group per this interval. */
  tallyIntervalMs: number;
  /** messageTtlS values allowed besides the protocol's three (MESSAGE_TTL_ALLOWED). */
  extraMessageTtls?: readonly number[];
  /** Members who answered going or maybe to an event are reminded this long before it starts. */
  eventReminderS: number;
  /** Messages one search looks at, at most (SEARCH_SCAN_ROWS, docs/protocol.md §8 "Search"). */
  searchScanRows: number;
  /** scrypt cost of new password hashes, 2^scryptLogN; OWASP's 17 when unset. */
  scryptLogN?: number;
  /** Groups up to this many members notify `all` by default (NOTIFY_ALL_MAX_MEMBERS); 256 when unset. */
  notifyAllMaxMembers?: number;
  /** The least time an add answered `invited` takes (ADD_ANSWER_FLOOR_MS); groups.ts's default when unset. */
  addAnswerFloorMs?: number;
  /** Push endpoints and webhooks may be private addresses or plain http (WEBHOOK_ALLOW_PRIVATE). */
  allowPrivateTargets?: boolean;
}
