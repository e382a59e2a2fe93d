// What other features may use of phone: the rest of this folder is its own.
export { type InviteSignUps, PhoneSignIn, pickSender } from './phone.js';
export * from './module.js';
