// What other features may use of accounts: the rest of this folder is its own.
export * from './queries.js';
export * from './module.js';
export { admitSignUp, type InviteSignUps } from './routes.js';
export type { Accounts, SessionStart, SignedIn, SignInMethod } from './accounts.js';
