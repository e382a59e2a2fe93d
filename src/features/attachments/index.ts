// What other features may use of attachments: the rest of this folder is its own.
export * from './attachments.js';
export * from './queries.js';
export * from './module.js';
