import '../../admin.css';
import { h, link, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { formatDateTime, formatNumber, type MessageKey, t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';

// Pieces every coordinator screen uses: the header with the community's sections, buttons that
// act (disabled while they run, failures shown in the screen's error line), and two-step
// confirmations for what cannot be undone.

export type Section = 'overview' | 'members' | 'requests' | 'reports' | 'settings';

const sections: [Section, string, MessageKey][] = [
  ['members', 'members', 'admin.nav.members'],
  ['requests', 'requests', 'admin.nav.requests'],
  ['reports', 'reports', 'admin.nav.reports'],
  ['settings', 'settings', 'admin.nav.settings'],
];

export const communityHash = (communityId: string, path = '') => `#/c/${encodeURIComponent(communityId)}${path ? `/${path}` : ''}`;

/**
 * The coordinator's sections of a community, the current one marked, with how many requests wait
 * and reports are open (a first page's worth, "99+" past it), kept current by `join_request` and
 * `report` frames and by `refresh` after a screen decides one.
 */
export function adminNav(ctx: Ctx, communityId: string, current: Section) {
  const counts: Partial<Record<Section, HTMLElement>> = { requests: h('span'), reports: h('span') };
  const show = (section: Section, items: number, more: boolean) =>
    replace(
      counts[section]!,
      items > 0 ? h('span', { class: 'badge', 'data-testid': `count-${section}` }, more ? '99+' : formatNumber(items)) : null,
    );
  const ignore = () => undefined; // a count is a hint: the section itself shows errors
  const requests = () => ctx.http.joinRequests(communityId).then((p) => show('requests', p.requests.length, p.nextCursor !== null), ignore);
  const reports = () =>
    ctx.http.communityReports(communityId).then((p) => show('reports', p.reports.length, p.nextCursor !== null), ignore);
  const refresh = () => void Promise.all([requests(), reports()]);
  refresh();
  const offs = [
    ctx.client.on('join_request', (f) => {
      if (f.community === communityId) void requests();
    }),
    ctx.client.on('report', (f) => {
      if (f.report.community === communityId) void reports();
    }),
  ];
  const element = h(
    'nav',
    { class: 'admin-nav', 'aria-label': t('admin.nav.label') },
    h(
      'ul',
      {},
      sections.map(([section, path, key]) =>
        h(
          'li',
          {},
          link(
            communityHash(communityId, path),
            { 'aria-current': section === current ? 'page' : null, 'data-testid': `nav-${section}` },
            t(key),
            counts[section] ?? null,
          ),
        ),
      ),
    ),
  );
  return {
    element,
    refresh,
    cleanup: () => {
      for (const off of offs) off();
    },
  };
}

/** A coordinator screen: header (back to the community), its sections, an error line; returns the parts to fill. */
export function adminPage(root: HTMLElement, ctx: Ctx, communityId: string, title: string, current: Section) {
  const heading = h('h1', {}, title);
  const nav = adminNav(ctx, communityId, current);
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const body = h('div', { class: 'admin-body' }, h('p', { class: 'loading' }, t('common.loading')));
  replace(
    root,
    h('header', { class: 'top' }, link(communityHash(communityId), { class: 'back', 'aria-label': t('admin.back') }, '‹'), heading),
    nav.element,
    error,
    body,
  );
  root.classList.add('admin-view');
  return { heading, error, body, refreshCounts: nav.refresh, cleanup: nav.cleanup };
}

/** A button that runs `run`, disabled meanwhile; a failure goes to `error`. */
export function actionButton(
  error: HTMLElement,
  label: string,
  run: (button: HTMLButtonElement) => Promise<void>,
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      ...attrs,
      onclick: async () => {
        error.textContent = '';
        button.disabled = true;
        try {
          await run(button);
        } catch (err) {
          error.textContent = describeError(err);
        } finally {
          button.disabled = false;
        }
      },
    },
    label,
  );
  return button;
}

/**
 * A button that asks once more before acting: the first press turns it into "Confirm …" (focus
 * stays on it, a screen reader hears the new label), the second acts; Escape or leaving it cancels.
 */
export function confirmButton(
  error: HTMLElement,
  label: string,
  confirmLabel: string,
  run: () => Promise<void>,
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  let armed = false;
  const disarm = () => {
    armed = false;
    button.textContent = label;
    button.classList.remove('danger');
  };
  const button = actionButton(
    error,
    label,
    async () => {
      if (!armed) {
        armed = true;
        button.textContent = confirmLabel;
        button.classList.add('danger');
        return;
      }
      disarm();
      await run();
    },
    attrs,
  );
  button.addEventListener('blur', disarm);
  button.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') disarm();
  });
  return button;
}

const MUTE_FOR: [number, MessageKey][] = [
  [3600, 'admin.group.mute1h'],
  [24 * 3600, 'admin.group.mute24h'],
  [7 * 24 * 3600, 'admin.group.mute7d'],
];

/**
 * How long, Mute and Unmute for one member in one group; `status` says what was done. In the
 * announcement group (`where: 'announcements'`) a mute stops their reactions there, and their
 * announcements when members may post them.
 */
export function muteControls(
  ctx: Ctx,
  error: HTMLElement,
  groupId: string,
  user: { id: string; name: string },
  status: HTMLElement,
  where: 'group' | 'announcements' = 'group',
): HTMLElement[] {
  const name = user.name;
  const duration = h(
    'select',
    { 'aria-label': t('admin.group.muteFor', { name }), 'data-testid': 'mute-for' },
    MUTE_FOR.map(([s, key]) => h('option', { value: s }, t(key))),
  );
  const inAnnouncements = where === 'announcements';
  return [
    duration,
    actionButton(
      error,
      t('admin.group.mute'),
      async () => {
        await ctx.http.mute(groupId, user.id, Number(duration.value));
        status.textContent = t('admin.group.muted');
      },
      {
        class: 'small',
        'data-testid': 'mute',
        'aria-label': inAnnouncements ? t('admin.members.muteWho', { name }) : t('admin.group.muteWho', { name }),
      },
    ),
    actionButton(
      error,
      t('admin.group.unmute'),
      async () => {
        await ctx.http.unmute(groupId, user.id);
        status.textContent = t('admin.group.unmuted');
      },
      {
        class: 'small',
        'data-testid': 'unmute',
        'aria-label': inAnnouncements ? t('admin.members.unmuteWho', { name }) : t('admin.group.unmuteWho', { name }),
      },
    ),
  ];
}

/** A polite live region: what changed on its own (a new request, a new report) is read out. */
export const liveRegion = () => h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-testid': 'live' });

export const when = (iso: string) => h('time', { datetime: iso }, formatDateTime(new Date(iso)));

/** A labelled form field. */
export const field = (label: string, input: HTMLElement, hint?: string) =>
  h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('span', { class: 'hint' }, hint) : null);

export const memberCount = (n: number): string => (n === 1 ? t('community.oneMember') : t('community.memberCount', { n }));

export const roleLabel = (role: 'owner' | 'admin' | 'member' | null): string =>
  role === 'owner' ? t('admin.role.owner') : role === 'admin' ? t('admin.role.admin') : t('admin.role.member');

/** Who can see and join a group, from its settings. */
export type Visibility = 'open' | 'approval' | 'private';
export const visibilityOf = (settings: Record<string, unknown>): Visibility =>
  settings.approvalRequired === true ? 'approval' : settings.open === true ? 'open' : 'private';
export const visibilitySettings = (v: Visibility) => ({ open: v === 'open', approvalRequired: v === 'approval' });
export const visibilityLabel = (v: Visibility): string =>
  v === 'open' ? t('admin.visibility.open') : v === 'approval' ? t('admin.visibility.approval') : t('admin.visibility.private');

/** Radio buttons for a group's visibility, in a fieldset (one tab stop, arrows move). */
export function visibilityChoice(name: string, selected: Visibility): { element: HTMLElement; value: () => Visibility } {
  const options: [Visibility, MessageKey][] = [
    ['open', 'admin.visibility.open.hint'],
    ['approval', 'admin.visibility.approval.hint'],
    ['private', 'admin.visibility.private.hint'],
  ];
  const element = h(
    'fieldset',
    { class: 'choice' },
    h('legend', {}, t('admin.visibility.legend')),
    options.map(([value, hint]) =>
      h(
        'label',
        { class: 'option' },
        h('input', { type: 'radio', name, value, checked: value === selected, 'data-testid': `visibility-${value}` }),
        h('span', {}, h('strong', {}, visibilityLabel(value)), h('span', { class: 'hint' }, t(hint))),
      ),
    ),
  );
  return {
    element,
    value: () => (element.querySelector<HTMLInputElement>('input:checked')?.value as Visibility | undefined) ?? selected,
  };
}

/** Pages through a list: `load(cursor)` gives items and the next cursor; a "Show more" button fetches the rest. */
export function pagedList<T>(
  error: HTMLElement,
  list: HTMLElement,
  load: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null | undefined }>,
  row: (item: T) => HTMLElement,
  empty: string,
): { reload(): Promise<void>; element: HTMLElement } {
  const more = h('div', { class: 'more' });
  const element = h('div', {}, list, more);
  let generation = 0;
  const fill = async (cursor: string | undefined, mine: number) => {
    const page = await load(cursor);
    if (mine !== generation) return; // a newer load started meanwhile (the search changed)
    if (!cursor) list.replaceChildren();
    for (const item of page.items) list.append(row(item));
    if (!cursor && page.items.length === 0) list.append(h('li', { class: 'empty' }, empty));
    const next = page.nextCursor ?? undefined;
    replace(more, next ? actionButton(error, t('admin.more'), () => fill(next, mine), { class: 'small' }) : null);
  };
  return {
    element,
    reload: async () => {
      generation++;
      try {
        await fill(undefined, generation);
      } catch (err) {
        error.textContent = describeError(err);
      }
    },
  };
}
