// What other features may use of communities: the rest of this folder is its own.
export * from './admin-frames.js';
export * from './queries.js';
export * from './module.js';
export * from './standing.js';
export type { InviteJoin, SignUpThrough } from './communities.js';
