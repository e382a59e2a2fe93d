// What other features may use of messages: the rest of this folder is its own.
export * from './expiry-queries.js';
export * from './message-ttl.js';
export * from './messages.js';
export * from './queries.js';
export * from './read-batch.js';
export * from './tallies.js';
export * from './module.js';
