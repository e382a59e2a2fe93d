// What other features may use of search: the rest of this folder is its own.
export * from './search.js';
export * from './module.js';
