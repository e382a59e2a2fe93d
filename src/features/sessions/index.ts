// What other features may use of sessions: the rest of this folder is its own.
export * from './queries.js';
