// What other features may use of privacy: the rest of this folder is its own.
export * from './consent.js';
export * from './queries.js';
export * from './privacy.js';
export * from './module.js';
