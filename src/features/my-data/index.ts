// What other features may use of a member's own data: the rest of this folder is its own.
export { MyData } from './my-data.js';
export { ERASED_SENDER, type ErasureStep, erasureSteps } from './erasure.js';
export * from './module.js';
