import type { Db } from '../db/connect.js';
import type { Publisher } from '../delivery/publisher.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';

/** What the domain needs from the outside world; built once in app.ts. */
export interface ChatDeps {
  db: Db;
  publisher: Publisher;
  logger: Logger;
  metrics: Metrics;
  limits: ChatLimits;
}

export interface ChatLimits {
  editWindowS: number;
  syncLimit: number;
  maxGroupMembers: number;
  maxCommunityGroups: number;
  tokenTtlS: number;
  /** scrypt cost of new password hashes, 2^scryptLogN; OWASP's 17 when unset. */
  scryptLogN?: number;
}
