// What other features may use of notifications: the rest of this folder is its own.
export * from './notifications.js';
export * from './queries.js';
export * from './module.js';
export { reminderPayload } from './payload.js';
