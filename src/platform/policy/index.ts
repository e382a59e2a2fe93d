// The one place that decides who may do what: pure decisions over facts the features load.
export * from './access.js';
export * from './authority.js';
export * from './community.js';
export * from './notifications.js';
export * from './operator.js';
export * from './privacy.js';
export * from './account.js';
