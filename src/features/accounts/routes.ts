import type { Accounts } from './accounts.js';
import { AppError } from '../../protocol/errors.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import { httpReplies, type HttpReply } from '../../protocol/http-replies.js';
import type { HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';
import type { InviteJoin, SignUpThrough } from '../communities/index.js';

/** Who a password check is for: what the guard and the line count it by. */
interface Checker {
  address: string;
  /** The username, or undefined for a sign-up (no account yet). */
  username?: string;
  /** A trusted device's id (docs/protocol.md §2): counted per device, not per username. */
  device?: string | undefined;
}

/** What a sign-up through an invite needs of communities (docs/protocol.md §2). */
export interface InviteSignUps {
  takeSignUpUse(code: string): Promise<'taken' | 'unlimited'>;
  joinByInvite(userId: string, code: string, signUp: SignUpThrough): Promise<InviteJoin>;
}

/**
 * Runs a password check (which hashes) in the password line, under the sign-in guard: a place in
 * the line is taken first, so a request the line cannot take is refused (429, Retry-After) before
 * anything is counted or waited for; then `admit` (the sign-in guard's or sign-up's limits); then the check, in turn.
 */
async function checked<T>(limits: RateLimits, who: Checker, admit: () => Promise<unknown>, check: () => Promise<T>): Promise<T> {
  // Ordered by address; the account is capped too, unless a trusted device asks.
  const keys = [`a:${who.address}`, ...(who.username !== undefined && who.device === undefined ? [`u:${who.username}`] : [])];
  const place = limits.passwordLine.take(keys);
  const { username } = who;
  try {
    await admit();
  } catch (err) {
    place.cancel();
    throw err;
  }
  if (username === undefined) return place.run(check);
  let result: T;
  try {
    result = await place.run(check);
  } catch (err) {
    if (err instanceof AppError && (err.code === 'unauthorized' || err.code === 'forbidden'))
      await limits.signIn.failed(username, who.address, who.device);
    else if (err instanceof AppError && err.code === 'rate_limited') await limits.signIn.unchecked(username, who.address, who.device);
    throw err;
  }
  await limits.signIn.succeeded(username, who.address, who.device);
  return result;
}

const signInChecker = (limits: RateLimits, who: Checker & { username: string }) => () =>
  limits.signIn.admit(who.username, who.address, who.device);

/**
 * A sign-up's allowance (docs/protocol.md §2): an invite with a use limit gives one of its uses
 * (the admin's limit is the consent; true: taken), else the address's sign-up limit counts it. A
 * code that does not work costs the address's allowance too (so probing codes is limited like
 * signing up), then gets the answer joining by it would.
 */
export async function admitSignUp(limits: RateLimits, invites: InviteSignUps, address: string, code: string | undefined): Promise<boolean> {
  if (code === undefined) {
    await limits.signUp(address);
    return false;
  }
  let taken: boolean;
  try {
    taken = (await invites.takeSignUpUse(code)) === 'taken';
  } catch (err) {
    await limits.signUp(address);
    throw err;
  }
  if (!taken) await limits.signUp(address);
  return taken;
}

/**
 * docs/protocol.md §2 "Recovery codes" and "Sign-in links". A recovery is limited exactly like a
 * sign-in (the password line and the sign-in guard, by username and address), and a wrong code
 * answers as an unknown username does.
 */
function recoveryRoutes(router: HttpRouter, accounts: Accounts, bodies: HttpBodies, limits: RateLimits) {
  const { recovery } = accounts;
  router.public('post', '/v1/accounts/recover', bodies.recover, { 200: 'signedIn' }, async ({ body, address }) => {
    const who = { address, username: body.username };
    const signedIn = await checked(limits, who, signInChecker(limits, who), () => recovery.recover(body));
    return { status: 200, body: signedIn satisfies HttpReply<'signedIn'> };
  });
  router.authed(
    'post',
    '/v1/me/recovery-codes',
    bodies.newRecoveryCodes,
    { 201: 'recoveryCodes' },
    async ({ principal, body, address }) => {
      // The password is checked like a sign-in's: a stolen token guesses it no faster.
      const who = { address, username: (await accounts.usernameOf(principal.userId)) ?? principal.userId };
      const recoveryCodes = await checked(limits, who, signInChecker(limits, who), () => recovery.regenerate(principal, body.password));
      return { status: 201, body: { recoveryCodes } satisfies HttpReply<'recoveryCodes'> };
    },
  );
  router.authed('get', '/v1/me/recovery-codes', undefined, { 200: 'recoveryCodesLeft' }, async ({ principal }) => ({
    status: 200,
    body: { remaining: await recovery.remaining(principal) } satisfies HttpReply<'recoveryCodesLeft'>,
  }));
  router.authed('post', '/v1/sign-in-links', bodies.newSignInLink, { 201: 'signInLink' }, async ({ principal, body }) => ({
    status: 201,
    body: (await recovery.issueLink(principal, body.username)) satisfies HttpReply<'signInLink'>,
  }));
  // A link's code has 256 random bits: the per-address limit of every request without a token is enough.
  router.public('post', '/v1/sign-in-links/redeem', bodies.redeemSignInLink, { 200: 'signedIn' }, async ({ body }) => ({
    status: 200,
    body: (await recovery.redeemLink(body)) satisfies HttpReply<'signedIn'>,
  }));
}

/** docs/protocol.md §2: local accounts and sessions. */
export function accountRoutes(
  router: HttpRouter,
  accounts: Accounts,
  invites: InviteSignUps,
  bodies: HttpBodies,
  localAccounts: boolean,
  limits: RateLimits,
) {
  // Turned off, the endpoints do not exist (404 whatever the body), rather than answer 400 first.
  if (localAccounts) {
    const signUpAnswers = { 201: httpReplies.signedIn.or(httpReplies.accountCreated) };
    router.public('post', '/v1/accounts', bodies.signUp, signUpAnswers, async ({ body, address, authorization }) => {
      const { invite: code, password, ...rest } = body;
      // Without a password: an operator's account for someone who will sign in by a link (docs/protocol.md §2 "Sign-in links").
      if (password === undefined) {
        const operator = await accounts.bearer(authorization);
        if (code !== undefined) throw new AppError('bad_request', 'an account without a password joins no invite');
        const created = await accounts.recovery.createAccount(operator, rest);
        return { status: 201, body: created satisfies HttpReply<'accountCreated'> };
      }
      const input = { ...rest, password };
      let useTaken = false;
      const admit = async () => {
        useTaken = await admitSignUp(limits, invites, address, code);
      };
      // Through an invite, the account and its join are one transaction (communities' joinByInvite).
      const signUp = () =>
        code === undefined
          ? accounts.signUp<InviteJoin>(input)
          : accounts.signUp(input, (userId, createAccount) => invites.joinByInvite(userId, code, { createAccount, useTaken }));
      return { status: 201, body: (await checked(limits, { address }, admit, signUp)) satisfies HttpReply<'signedIn'> };
    });
    router.public('post', '/v1/sessions', bodies.signIn, { 200: 'signedIn' }, async ({ body, address }) => {
      const who = { address, username: body.username, device: accounts.trustedDevice(body.username, body.device) };
      return {
        status: 200,
        body: (await checked(limits, who, signInChecker(limits, who), () => accounts.signIn(body))) satisfies HttpReply<'signedIn'>,
      };
    });
    router.authed('put', '/v1/me/password', bodies.changePassword, { 204: null }, async ({ principal, body, address }) => {
      // A stolen token must not make guessing the password any cheaper than signing in does.
      const who = { address, username: (await accounts.usernameOf(principal.userId)) ?? principal.userId };
      await checked(limits, who, signInChecker(limits, who), () => accounts.changePassword(principal, body));
      return { status: 204 };
    });
    recoveryRoutes(router, accounts, bodies, limits);
  }
  // Also for external tokens: their `sid` is revocable too (docs/protocol.md §2).
  router.authed('del', '/v1/sessions/current', undefined, { 204: null }, async ({ principal }) => {
    await accounts.signOut(principal);
    return { status: 204 };
  });
  router.authed('del', '/v1/sessions', undefined, { 204: null }, async ({ principal }) => {
    await accounts.signOutEverywhere(principal);
    return { status: 204 };
  });
}
