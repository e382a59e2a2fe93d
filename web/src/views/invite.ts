import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import type { Ctx } from '../main.js';

/** `#/invite/CODE`: joins the community, then opens it. */
export function inviteView(root: HTMLElement, ctx: Ctx, code: string) {
  const status = h('p', { class: 'notice', role: 'status' }, 'Joining…');
  replace(
    root,
    h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': 'Back' }, '‹'), h('h1', {}, 'Invitation')),
    h('div', { class: 'card' }, status),
  );
  ctx.http.joinByInvite(code).then(
    (reply) => {
      if (reply.community) ctx.navigate(`#/c/${encodeURIComponent(reply.community.id)}`);
      else status.textContent = 'Request sent. An admin of the community has to approve it; you will see it here once they do.';
    },
    (err: unknown) => {
      status.className = 'error';
      status.textContent = `Could not join: ${describeError(err)}`;
    },
  );
}
