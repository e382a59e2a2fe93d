import type { CommandHandlers } from '../gateway/commands/context.js';
import type { HttpRouter } from '../gateway/http.js';
import type { RateLimits } from '../gateway/rate-limits.js';
import type { HttpBodies } from '../protocol/http-bodies.js';

/**
 * What a feature hands the server (docs/architecture.md "How to add a feature"): its HTTP routes and
 * its WebSocket commands. Built in src/platform/features.ts, registered by the gateway.
 */
export interface FeatureModule {
  readonly name: string;
  /** Registers the feature's HTTP routes (docs/protocol.md §8). */
  routes?(router: HttpRouter): void;
  /** The WebSocket commands the feature answers (docs/protocol.md §4 "Commands"). */
  commands?: Partial<CommandHandlers>;
}

/** What the transport side lends a feature's routes. */
export interface ModuleContext {
  bodies: HttpBodies;
  limits: RateLimits;
  /** Username and password accounts are served (LOCAL_ACCOUNTS). */
  localAccounts: boolean;
  maxUploadBytes: number;
  vapidPublicKey: string;
}
