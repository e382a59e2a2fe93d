import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';

/** `#/invite/CODE`: shows what the link leads to, and joins only when the user confirms. */
export function inviteView(root: HTMLElement, ctx: Ctx, code: string) {
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'invite-status' }, t('common.loading'));
  const card = h('div', { class: 'card', 'data-testid': 'invite-preview' }, status);
  replace(
    root,
    h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': t('common.back') }, '‹'), h('h1', {}, t('invite.title'))),
    card,
  );
  const fail = (err: unknown) => {
    status.className = 'error';
    status.setAttribute('role', 'alert');
    status.textContent = t('invite.failed', { reason: describeError(err) });
  };
  ctx.http.invitePreview(code).then(({ community, approvalRequired }) => {
    const join = h('button', { type: 'button', class: 'primary', 'data-testid': 'invite-join' }, t('invite.join'));
    join.onclick = () => {
      join.disabled = true;
      status.textContent = t('invite.joining');
      ctx.http.joinByInvite(code).then((reply) => {
        // A group's link joins that group too: the community's page lists it.
        if (reply.community) ctx.navigate(`#/c/${encodeURIComponent(reply.community.id)}`);
        else {
          status.textContent = t('invite.pending');
          join.remove();
        }
      }, fail);
    };
    status.textContent = approvalRequired ? t('invite.approval') : '';
    replace(
      card,
      h('h2', { class: 'community-name', dir: 'auto' }, community.name),
      community.description ? h('p', { dir: 'auto' }, community.description) : null,
      h('p', { class: 'hint' }, t('invite.members', { count: community.memberCount })),
      status,
      h('div', { class: 'buttons' }, join, link('#/', { class: 'button' }, t('invite.notNow'))),
    );
    join.focus();
  }, fail);
}
