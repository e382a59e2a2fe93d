import type { HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';
import type { PhoneSignIn } from './phone.js';

/** docs/protocol.md §2 "Phone numbers and one-time codes": served with LOCAL_ACCOUNTS and a sender (OTP_SENDER not off). */
export function phoneRoutes(router: HttpRouter, phone: PhoneSignIn, bodies: HttpBodies, localAccounts: boolean, limits: RateLimits) {
  if (!localAccounts || !phone.enabled) return;
  const sent = { sent: true } as const satisfies HttpReply<'codeSent'>;
  router.public('post', '/v1/phone/codes', bodies.phoneCode, { 202: 'codeSent' }, async ({ body, address }) => {
    await phone.requestCode(phone.normalise(body.phone), 'sign-in', { address, locale: body.locale }, limits.phone);
    return { status: 202, body: sent };
  });
  router.public('post', '/v1/phone/sign-in', bodies.phoneSignIn, { 200: 'signedIn', 201: 'signedIn' }, async ({ body, address }) => {
    const { status, body: signedIn } = await phone.signIn({ ...body, phone: phone.normalise(body.phone) }, address, limits.phone);
    return { status, body: signedIn satisfies HttpReply<'signedIn'> };
  });
  router.authed('post', '/v1/me/phone/codes', bodies.phoneCode, { 202: 'codeSent' }, async ({ principal, body, address }) => {
    const who = { address, userId: principal.userId, locale: body.locale };
    await phone.requestCode(phone.normalise(body.phone), 'verify', who, limits.phone);
    return { status: 202, body: sent };
  });
  router.authed('put', '/v1/me/phone', bodies.attachPhone, { 200: 'myPhone' }, async ({ principal, body, address }) => {
    const attached = await phone.attach(principal.userId, { ...body, phone: phone.normalise(body.phone) }, address, limits.phone);
    return { status: 200, body: attached satisfies HttpReply<'myPhone'> };
  });
  router.authed('del', '/v1/me/phone', undefined, { 204: null }, async ({ principal }) => {
    await phone.detach(principal.userId);
    return { status: 204 };
  });
}
