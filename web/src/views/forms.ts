import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';

/** A titled form with one submit button and an error line; `run` returns where to go next. */
export function formPage(
  root: HTMLElement,
  ctx: Ctx,
  title: string,
  fields: HTMLElement[],
  submitLabel: string,
  run: () => Promise<string>,
) {
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  replace(
    root,
    h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': t('common.back') }, '‹'), h('h1', {}, title)),
    h(
      'form',
      {
        class: 'card',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          submit.disabled = true;
          try {
            ctx.navigate(await run());
          } catch (err) {
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
      fields,
      error,
      submit,
    ),
  );
  root.querySelector('input')?.focus();
}

const field = (label: string, input: HTMLElement, hint?: string) =>
  h('label', {}, label, input, hint ? h('span', { class: 'hint' }, hint) : null);

export function newGroupView(root: HTMLElement, ctx: Ctx) {
  const name = h('input', { name: 'name', required: true, maxlength: 128, dir: 'auto' });
  const members = h('textarea', { name: 'members', rows: 2, placeholder: 'u_abc…, u_def…' });
  formPage(
    root,
    ctx,
    t('forms.newGroup'),
    [field(t('forms.name'), name), field(t('forms.members'), members, t('forms.members.hint'))],
    t('forms.createGroup'),
    async () => {
      const ids = members.value.split(/[\s,]+/).filter(Boolean);
      const { group } = await ctx.http.createGroup({ name: name.value.trim(), ...(ids.length ? { members: ids } : {}) });
      return `#/g/${encodeURIComponent(group.id)}`;
    },
  );
}

export function newCommunityView(root: HTMLElement, ctx: Ctx) {
  const name = h('input', { name: 'name', required: true, maxlength: 128, dir: 'auto' });
  const description = h('textarea', { name: 'description', rows: 3, maxlength: 2048, dir: 'auto' });
  formPage(
    root,
    ctx,
    t('forms.newCommunity'),
    [field(t('forms.name'), name), field(t('forms.description'), description)],
    t('forms.createCommunity'),
    async () => {
      const { community } = await ctx.http.createCommunity({
        name: name.value.trim(),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
      });
      return `#/c/${encodeURIComponent(community.id)}`;
    },
  );
}
