import type { HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { admitSignUp, type InviteSignUps } from '../accounts/index.js';
import type { InviteJoin } from '../communities/index.js';
import type { Passkeys } from './passkeys.js';

/** docs/protocol.md §2 "Passkeys": served only with LOCAL_ACCOUNTS (else 404, like /v1/accounts). */
export function passkeyRoutes(
  router: HttpRouter,
  passkeys: Passkeys,
  invites: InviteSignUps,
  bodies: HttpBodies,
  localAccounts: boolean,
  limits: RateLimits,
) {
  if (!localAccounts) return;
  // A signed-in member's passkeys.
  router.authed('post', '/v1/me/passkeys/options', undefined, { 200: 'passkeyOptions' }, async ({ principal }) => ({
    status: 200,
    body: await passkeys.optionsToRegister(principal.userId),
  }));
  router.authed('post', '/v1/me/passkeys', bodies.addPasskey, { 201: 'passkey' }, async ({ principal, body }) => ({
    status: 201,
    body: { passkey: await passkeys.register(principal.userId, body) },
  }));
  router.authed('get', '/v1/me/passkeys', undefined, { 200: 'passkeys' }, async ({ principal }) => ({
    status: 200,
    body: { passkeys: await passkeys.list(principal.userId) },
  }));
  // Someone else's passkey id answers like an unknown one (404).
  router.authed('patch', '/v1/me/passkeys/:id', bodies.renamePasskey, { 200: 'passkey' }, async ({ principal, params, body }) => ({
    status: 200,
    body: { passkey: await passkeys.rename(principal.userId, params.id, body.name) },
  }));
  router.authed('del', '/v1/me/passkeys/:id', undefined, { 204: null }, async ({ principal, params }) => {
    await passkeys.remove(principal.userId, params.id);
    return { status: 204 };
  });

  // Sign-in and sign-up: public, counted per address.
  router.public('post', '/v1/passkeys/options', undefined, { 200: 'passkeyOptions' }, async ({ address }) => {
    await limits.passkey(address);
    return { status: 200, body: await passkeys.optionsToSignIn() };
  });
  router.public('post', '/v1/passkeys/sign-in', bodies.passkeySignIn, { 200: 'signedIn' }, async ({ body, address }) => {
    await limits.passkey(address);
    return { status: 200, body: (await passkeys.signIn(body)) satisfies HttpReply<'signedIn'> };
  });
  router.public(
    'post',
    '/v1/passkeys/sign-up/options',
    bodies.passkeySignUpOptions,
    { 200: 'passkeyOptions' },
    async ({ body, address }) => {
      await limits.passkey(address);
      return { status: 200, body: await passkeys.optionsToSignUp(body) };
    },
  );
  router.public('post', '/v1/passkeys/sign-up', bodies.passkeySignUp, { 201: 'signedIn' }, async ({ body, address }) => {
    await limits.passkey(address);
    const { invite: code, ...input } = body;
    // Counted by the sign-up limits of POST /v1/accounts (or the invite's own allowance).
    const useTaken = await admitSignUp(limits, invites, address, code);
    const signedIn =
      code === undefined
        ? await passkeys.signUp<InviteJoin>(input)
        : await passkeys.signUp(input, (userId, createAccount) => invites.joinByInvite(userId, code, { createAccount, useTaken }));
    return { status: 201, body: signedIn satisfies HttpReply<'signedIn'> };
  });
}
