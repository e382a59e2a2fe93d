// What other features may use of profiles-presence: the rest of this folder is its own.
export * from './presence-feed.js';
export * from './presence-store.js';
export * from './profiles.js';
export * from './queries.js';
export * from './module.js';
