// What other features may use of webhooks: the rest of this folder is its own.
export * from './community-webhooks.js';
export * from './dispatcher.js';
export * from './lanes.js';
export * from './queries.js';
export * from './webhooks.js';
export * from './module.js';
