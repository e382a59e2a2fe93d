// What other parts may use of passkeys: the rest of this folder is its own.
export { Passkeys } from './passkeys.js';
export * from './module.js';
