// What other features may use of polls-events: the rest of this folder is its own.
export * from './queries.js';
export * from './module.js';
export { EventReminders } from './reminders.js';
