import type { HttpReplies } from '../../../../src/client/index.js';
import { h } from '../../dom.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { actionButton, adminPage, confirmButton, liveRegion, pagedList, when } from './ui.js';

type Report = HttpReplies['reports']['reports'][number];
type Ban = HttpReplies['bans']['bans'][number];
type Resolution = Parameters<Ctx['http']['resolveReport']>[1];

/** `#/c/:id/reports`: the open reports (live `report` frames) with their actions, and the bans. */
export function reportsView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { http, client } = ctx;
  const { error, body, refreshCounts, cleanup } = adminPage(root, ctx, communityId, t('admin.reports.title'), 'reports');
  const live = liveRegion();
  const reportList = h('ul', { class: 'list reports', 'data-testid': 'report-list' });
  const banList = h('ul', { class: 'list bans', 'data-testid': 'ban-list' });

  const reports = pagedList<Report>(
    error,
    reportList,
    async (cursor) => {
      const page = await http.communityReports(communityId, cursor ? { cursor } : {});
      // Senders are named from their groups' member lists (community admins may read them).
      const groups = new Set(page.reports.map((r) => r.group));
      await Promise.all([...groups].map((g) => ctx.names.loadGroup(g).catch(() => undefined)));
      return { items: page.reports, nextCursor: page.nextCursor };
    },
    (r) => reportRow(r),
    t('admin.reports.none'),
  );
  const bans = pagedList<Ban>(
    error,
    banList,
    async (cursor) => {
      const page = await http.bans(communityId, cursor);
      return { items: page.bans, nextCursor: page.nextCursor };
    },
    (b) => banRow(b),
    t('admin.bans.none'),
  );

  const reportRow = (r: Report): HTMLElement => {
    const sender = ctx.names.of(r.snapshot.sender, t('admin.reports.someone'));
    const resolve = (label: string, resolution: Resolution) => async () => {
      await http.resolveReport(r.id, resolution);
      live.textContent = t('admin.reports.resolved', { action: label });
      refreshCounts();
      await reports.reload();
      if (resolution.action === 'ban') await bans.reload();
    };
    const act = (label: string, resolution: Resolution) =>
      actionButton(error, label, resolve(label, resolution), { class: 'small', 'data-testid': `resolve-${resolution.action}` });
    const danger = (label: string, confirm: string, resolution: Resolution) =>
      confirmButton(error, label, confirm, resolve(label, resolution), { class: 'small', 'data-testid': `resolve-${resolution.action}` });
    return h(
      'li',
      { class: 'report', 'data-testid': 'report-row' },
      h('blockquote', {}, r.snapshot.text ?? h('em', {}, t('admin.reports.noText'))),
      h(
        'p',
        { class: 'meta' },
        t('admin.reports.line', { sender, reporter: r.reporter.name, reason: r.reason }),
        r.note ? ` ${t('admin.reports.note', { note: r.note })}` : '',
        ' · ',
        when(r.createdAt),
      ),
      h(
        'div',
        { class: 'actions' },
        act(t('admin.reports.dismiss'), { action: 'dismiss' }),
        act(t('admin.reports.delete'), { action: 'delete' }),
        act(t('admin.reports.mute'), { action: 'mute', forS: 24 * 3600 }),
        danger(t('admin.reports.remove'), t('admin.reports.confirmRemove'), { action: 'remove' }),
        danger(t('admin.reports.ban'), t('admin.reports.confirmBan'), { action: 'ban' }),
      ),
    );
  };

  const banRow = (b: Ban): HTMLElement =>
    h(
      'li',
      { class: 'ban', 'data-testid': 'ban-row' },
      h(
        'div',
        { class: 'who' },
        h('span', { class: 'name' }, b.name ?? b.userId),
        h('span', { class: 'meta' }, b.reason ? `${b.reason} · ` : '', when(b.createdAt)),
      ),
      h(
        'div',
        { class: 'actions' },
        actionButton(
          error,
          t('admin.bans.unban'),
          async () => {
            await http.unban(communityId, b.userId);
            await bans.reload();
          },
          { class: 'small', 'aria-label': t('admin.bans.unbanWho', { name: b.name ?? b.userId }) },
        ),
      ),
    );

  body.replaceChildren(
    live,
    h('section', { 'aria-labelledby': 'open-reports' }, h('h2', { id: 'open-reports' }, t('admin.reports.open')), reports.element),
    h('section', { 'aria-labelledby': 'banned' }, h('h2', { id: 'banned' }, t('admin.bans.title')), bans.element),
  );
  void reports.reload();
  void bans.reload();
  const off = client.on('report', (f) => {
    if (f.report.community !== communityId) return;
    if (f.report.status === 'open') live.textContent = t('admin.reports.new');
    void reports.reload();
  });
  return () => {
    off();
    cleanup();
  };
}
