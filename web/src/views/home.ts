import type { GroupState } from '../../../src/client/index.js';
import {
  communityRows,
  type CommunityRowData,
  type GroupRowData,
  groupRow as homeGroupRow,
  senderPrefix,
} from '../components/home-rows.js';
import { invitationsBox } from '../components/invitations.js';
import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from '../language.js';
import type { Ctx } from '../main.js';
import { offline, type Preview } from '../offline.js';
import { enablePush, pushEnabled, pushSupported } from '../push.js';
import { searchBox } from '../search.js';

/** A clear opt-in to notifications, shown after sign-in; the browser asks only when it is pressed. */
function pushOptIn(client: Ctx['client'], error: HTMLElement) {
  const box = h('p', { class: 'push-opt-in' });
  if (!pushSupported()) return box;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'data-testid': 'enable-push',
      onclick: () => {
        button.disabled = true;
        enablePush(client).then(
          () => replace(box, t('home.push.on')),
          (err: unknown) => {
            button.disabled = false;
            error.textContent = t('home.push.failed', { reason: describeError(err) });
          },
        );
      },
    },
    `🔔 ${t('home.push.enable')}`,
  );
  replace(box, `${t('home.push.offer')} `, button);
  void pushEnabled().then((on) => on && replace(box, t('home.push.on')));
  return box;
}

type MyCommunity = CommunityRowData;
type Row = GroupRowData;

/** The communities and groups of the user, with last messages and unread counts, live. */
export function homeView(root: HTMLElement, ctx: Ctx) {
  const { client, session, names } = ctx;
  const me = session.user.id;
  const saved = offline.home(me);
  let communities: MyCommunity[] = [];
  const previews: Record<string, Preview> = { ...(saved?.previews ?? {}) };
  /** Direct groups are named after the other person, once their members are known. */
  const directNames = new Map<string, string>();
  const error = h('p', { class: 'error', role: 'alert' });
  const communityList = h('div');
  const groupList = h('ul', { class: 'list', 'data-testid': 'group-list' });
  const groupEmpty = h('p', { class: 'empty' });
  const invitations = invitationsBox(ctx.http, (message) => (error.textContent = message));
  /** One row per group, keyed by id: an event redraws its one row. */
  const rows = new Map<string, HTMLElement>();

  /** The groups as `GET /v1/me` lists them: shown while the socket connects (one round trip, not four). */
  let listed: Row[] | undefined;
  const groups = (): Row[] => {
    const live = client.groups();
    return live.length > 0 || client.state === 'ready' ? live : (listed ?? saved?.groups ?? []);
  };

  const nameOf = (g: Row) => (g.kind === 'direct' ? (directNames.get(g.id) ?? g.name) : g.name);
  const groupRow = (g: Row) => {
    const p = previews[g.id];
    return homeGroupRow(g, nameOf(g), p, p ? senderPrefix(g.kind, p.sender, me, names) : '');
  };
  const byActivity = (a: Row, b: Row) =>
    (previews[b.id]?.ts ?? '').localeCompare(previews[a.id]?.ts ?? '') || nameOf(a).localeCompare(nameOf(b));
  const plainGroups = () => groups().filter((g) => g.communityId === null);

  const drawGroups = () => {
    const plain = plainGroups().sort(byActivity);
    rows.clear();
    replace(
      groupList,
      plain.map((g) => {
        const row = groupRow(g);
        rows.set(g.id, row);
        return row;
      }),
    );
    groupEmpty.textContent = plain.length > 0 ? '' : client.state === 'ready' || saved ? t('home.noGroups') : t('common.loading');
    groupEmpty.hidden = plain.length > 0;
  };
  /** Redraws one group's row, moving it to the top when it has news. */
  const redrawRow = (id: string, moveUp: boolean) => {
    const g = groups().find((x) => x.id === id);
    const old = rows.get(id);
    if (!g || !old) return g && g.communityId === null ? drawGroups() : drawCommunities();
    const row = groupRow(g);
    rows.set(id, row);
    if (moveUp && groupList.firstElementChild !== old) {
      old.remove();
      groupList.prepend(row);
    } else old.replaceWith(row);
  };

  const drawCommunities = () => {
    const all = groups();
    const unreadOf = (communityId: string) => all.filter((g) => g.communityId === communityId).reduce((n, g) => n + g.unread, 0);
    replace(communityList, communityRows(communities, unreadOf));
  };

  const saveHome = () =>
    offline.saveHome(
      me,
      groups().map((g) => ({ id: g.id, kind: g.kind, name: nameOf(g), communityId: g.communityId, role: g.role, unread: g.unread })),
      previews,
    );

  /** Last messages of the groups that have none known yet, and the names of direct chats. */
  let filling = false;
  const fillIn = async () => {
    if (filling || client.state !== 'ready') return;
    filling = true;
    try {
      await fillInGroups(ctx, plainGroups().slice(0, 40), previews, directNames, (id) => redrawRow(id, false));
      saveHome();
    } finally {
      filling = false;
    }
  };

  const loadCommunities = () =>
    ctx.http.me().then(
      (info) => {
        communities = info.communities;
        if (client.state !== 'ready') {
          const unread = new Map((saved?.groups ?? []).map((g) => [g.id, g.unread]));
          listed = info.groups.map((g) => ({
            id: g.id,
            kind: g.kind,
            name: g.name,
            communityId: g.communityId,
            role: g.role,
            unread: unread.get(g.id) ?? 0,
          }));
          drawGroups();
        }
        drawCommunities();
      },
      (err: unknown) => {
        if (client.state === 'ready') error.textContent = describeError(err); // offline: the saved lists show
      },
    );

  homeLayout(root, ctx, [pushOptIn(client, error), error, invitations.element], communityList, [groupEmpty, groupList]);
  drawGroups();
  drawCommunities();
  void loadCommunities();
  void invitations.load();
  void fillIn();
  const offs = [
    client.on('unread', ({ group }) => {
      redrawRow(group, false);
      drawCommunities();
    }),
    client.on('ready', () => {
      drawGroups();
      drawCommunities();
      void fillIn();
    }),
    client.on('event', (e) => {
      if (e.kind !== 'message') return;
      previews[e.group] = { sender: e.sender, text: e.deleted ? t('conv.deleted') : (e.text ?? ''), ts: e.ts };
      redrawRow(e.group, true);
      saveHome();
    }),
    client.on('group_removed', () => {
      drawGroups();
      void loadCommunities();
    }),
    client.on('group_invited', () => void invitations.load()),
    // A new announcement group means a community was joined.
    client.on('group', (g: GroupState) => {
      if (g.kind === 'announcement' && !communities.some((c) => c.id === g.communityId)) void loadCommunities();
      if (g.communityId === null) {
        drawGroups();
        void fillIn();
      }
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** The home screen's frame: header, search, what goes above the lists, communities, groups, language. */
function homeLayout(root: HTMLElement, ctx: Ctx, above: HTMLElement[], communityList: HTMLElement, groupParts: HTMLElement[]) {
  replace(
    root,
    h(
      'header',
      { class: 'top' },
      h('h1', {}, `🌳 ${t('app.name')}`),
      h(
        'div',
        { class: 'me' },
        link('#/me', { 'data-testid': 'my-name', class: 'profile-link', dir: 'auto', title: t('home.profile') }, ctx.session.user.name),
        h('button', { type: 'button', class: 'link', onclick: () => ctx.signOut() }, t('home.signOut')),
      ),
    ),
    searchBox(ctx),
    ...above,
    h(
      'section',
      { 'aria-labelledby': 'communities-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'communities-title' }, t('home.communities')),
        link('#/new-community', { class: 'button' }, `+ ${t('home.newCommunity')}`),
      ),
      communityList,
    ),
    h(
      'section',
      { 'aria-labelledby': 'groups-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'groups-title' }, t('home.groups')),
        link('#/new-group', { class: 'button' }, `+ ${t('home.newGroup')}`),
      ),
      ...groupParts,
    ),
    h('footer', { class: 'foot' }, languageSwitch(ctx.rerender)),
  );
}

/** Fetches, for each group, its members' names (the other person of a direct chat) and a last message when none is known. */
async function fillInGroups(
  ctx: Ctx,
  groups: Row[],
  previews: Record<string, Preview>,
  directNames: Map<string, string>,
  redraw: (id: string) => void,
) {
  const { client, names } = ctx;
  const me = ctx.session.user.id;
  for (const g of groups) {
    // Senders' names (and the other person of a direct chat) from the member list.
    await names.loadGroup(g.id).catch(() => undefined);
    if (g.kind === 'direct') {
      const other = names.membersOf(g.id).find((id) => id !== me);
      if (other) directNames.set(g.id, names.of(other));
    }
    redraw(g.id);
    if (!previews[g.id] && (g.lastSeq ?? 0) > 0) {
      const page = await client.history(g.id, { limit: 1 }).catch(() => undefined);
      const m = page?.messages[0];
      if (m) {
        previews[g.id] = { sender: m.sender, text: m.deleted ? t('conv.deleted') : (m.text ?? ''), ts: m.ts };
        redraw(g.id);
      }
    }
  }
}
