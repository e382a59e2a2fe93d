// The package's entry (`banyan`): the composition root lives in platform/app.ts.
export * from './platform/app.js';
