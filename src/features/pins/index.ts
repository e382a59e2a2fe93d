// What other features may use of pins: the rest of this folder is its own.
export * from './pins.js';
export * from './module.js';
