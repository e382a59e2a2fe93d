// What other features may use of groups: the rest of this folder is its own.
export * from './admission.js';
export * from './authority.js';
export * from './groups.js';
export * from './membership-cache.js';
export * from './queries.js';
export * from './module.js';
