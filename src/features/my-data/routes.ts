import { AppError } from '../../protocol/errors.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import { idParam, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';
import { type AccountChecks, type MyData, requireMember } from './my-data.js';

/** docs/protocol.md §2 "Your data: export and erasure". */
export function myDataRoutes(
  router: HttpRouter,
  myData: MyData,
  accounts: Pick<AccountChecks, 'checkPassword' | 'usernameOf'>,
  bodies: HttpBodies,
  limits: RateLimits,
) {
  router.authed('post', '/v1/me/exports', undefined, { 202: 'dataExport' }, async ({ principal }) => {
    requireMember(principal);
    return { status: 202, body: await myData.exports.request(principal.userId) };
  });
  router.authed('get', '/v1/me/exports/:id', undefined, { 200: 'dataExport' }, async ({ principal, params }) => {
    requireMember(principal);
    return { status: 200, body: await myData.exports.status(principal.userId, idParam(params.id, 'export')) };
  });
  router.authed(
    'get',
    '/v1/me/exports/:id/download',
    undefined,
    { 200: { contentType: 'application/zip' } },
    async ({ principal, params }) => {
      requireMember(principal);
      const d = await myData.exports.download(principal.userId, idParam(params.id, 'export'));
      d.source.once('close', d.done);
      return {
        status: 200,
        headers: {
          'content-type': 'application/zip',
          // The name is ASCII the server made (banyan-data-<date>.zip).
          'content-disposition': `attachment; filename="${d.name}"`,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        },
        stream: { source: d.source, size: d.size },
      };
    },
  );
  router.authed('del', '/v1/me', bodies.eraseMe, { 202: 'erasure' }, async ({ principal, body, address }) => {
    requireMember(principal);
    // The password is checked like a sign-in (its line and its limits): a stolen token must not make guessing it cheaper.
    const username = (await accounts.usernameOf(principal.userId)) ?? principal.userId;
    const place = limits.passwordLine.take([`a:${address}`, `u:${username}`]);
    try {
      await limits.signIn.admit(username, address, undefined);
    } catch (err) {
      place.cancel();
      throw err;
    }
    const checked = await place.run(() => accounts.checkPassword(principal.userId, body.password));
    if (checked === 'wrong') {
      await limits.signIn.failed(username, address, undefined);
      if (body.password === undefined) throw new AppError('bad_request', 'password is required to delete this account');
      throw new AppError('forbidden', 'wrong password');
    }
    if (checked === 'ok') await limits.signIn.succeeded(username, address, undefined);
    await myData.erase(principal);
    return { status: 202, body: { erasure: { status: 'pending' as const } } };
  });
}
