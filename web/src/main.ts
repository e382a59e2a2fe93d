import './style.css';
import { BanyanClient, type SessionTokens } from '../../src/client/client.js';
import type { BanyanHttp } from '../../src/client/http.js';
import { h, replace } from './dom.js';
import { language, t } from './i18n/index.js';
import { offline } from './offline.js';
import { loadSession, pendingInvite, saveSession, saveTokens, storedTokens, type Session } from './session.js';
import { authView, linkView } from './views/auth.js';
import { homeView } from './views/home.js';

// The web client: hash routes, one view at a time, each view cleaning up after itself.

export interface Ctx {
  session: Session;
  client: BanyanClient;
  http: BanyanHttp;
  names: Names;
  navigate(hash: string): void;
  signOut(): void;
  /** Draws the current screen again (e.g. in another language). */
  rerender(): void;
}

// biome-ignore lint/suspicious/noConfusingVoidType: a view returns its cleanup, or nothing at all.
export type View = (root: HTMLElement, ctx: Ctx, param: string) => (() => void) | void;

/** Display names of user ids, learned from group member lists. */
export class Names {
  private readonly known = new Map<string, string>();
  private readonly loaded = new Set<string>();
  private readonly members = new Map<string, string[]>();
  constructor(
    private readonly http: BanyanHttp,
    private readonly me: Session['user'],
  ) {
    this.known.set(me.id, me.name);
  }
  of(id: string, fallback?: string): string {
    // An erased member's kept messages have no sender (docs/protocol.md §2 "Your data: export and erasure").
    if (id === '') return t('common.deletedAccount');
    return id === this.me.id ? t('common.you') : (this.known.get(id) ?? fallback ?? t('common.someone', { id: id.slice(2, 8) }));
  }
  /** The display name itself, also for the user (mentions of them read "@Their name"). */
  nameOf(id: string): string | undefined {
    return this.known.get(id);
  }
  /** The members of a group, as last loaded (for @mentions and direct chats' names). */
  membersOf(groupId: string): string[] {
    return this.members.get(groupId) ?? [];
  }
  /** The user's own name changed (profile). */
  rename(id: string, name: string): void {
    this.known.set(id, name);
  }
  /** Learns the names of a group's members (once per group); resolves when known. */
  async loadGroup(groupId: string, force = false): Promise<void> {
    if (this.loaded.has(groupId) && !force) return;
    this.loaded.add(groupId);
    // Members of an announcement group may not list each other (forbidden): senders then show
    // as the community.
    let cursor: string | undefined;
    const ids: string[] = [];
    try {
      do {
        const page = await this.http.members(groupId, cursor);
        for (const m of page.members) {
          ids.push(m.userId);
          if (m.name) this.known.set(m.userId, m.name);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor && ids.length < 2000);
    } catch (err) {
      this.loaded.delete(groupId); // try again next time
      throw err;
    }
    this.members.set(groupId, ids);
  }
}

/**
 * A screen loaded when first opened (its own chunk): the first screens (sign-in, home) stay
 * small. The view starts once its code is there, unless it was left meanwhile.
 */
const lazy =
  (load: () => Promise<View>): View =>
  (root, ctx, param) => {
    let cleanup: ReturnType<View>;
    let left = false;
    load().then(
      (view) => {
        if (!left) cleanup = view(root, ctx, param);
      },
      () => replace(root, h('p', { class: 'error', role: 'alert' }, t('error.unavailable'))),
    );
    return () => {
      left = true;
      if (cleanup) cleanup();
    };
  };

const routes: [RegExp, View][] = [
  [/^#\/g\/(.+)$/, lazy(() => import('./views/conversation.js').then((m) => m.conversationView))],
  [/^#\/c\/([^/]+\/.+)$/, lazy(() => import('./views/admin/index.js').then((m) => m.adminView))],
  [/^#\/c\/(.+)$/, lazy(() => import('./views/community.js').then((m) => m.communityView))],
  [/^#\/invite\/(.+)$/, lazy(() => import('./views/invite.js').then((m) => m.inviteView))],
  [/^#\/new-group$/, lazy(() => import('./views/forms.js').then((m) => m.newGroupView))],
  [/^#\/new-community$/, lazy(() => import('./views/forms.js').then((m) => m.newCommunityView))],
  [/^#\/me$/, lazy(() => import('./views/profile.js').then((m) => m.profileView))],
  [/^#\/account$/, lazy(() => import('./views/account/index.js').then((m) => m.accountView))],
  [/^/, homeView],
];

const root = document.getElementById('app')!;
let ctx: Ctx | undefined;
let cleanup: ReturnType<View>;
let banner: HTMLElement | undefined;

function start(session: Session): void {
  saveSession(session);
  const client = new BanyanClient({
    url: location.origin,
    token: session.token,
    ...(session.refreshToken
      ? {
          refreshToken: session.refreshToken,
          expiresAt: session.expiresAt,
          // Stored for the next reload and the other tabs; the session object too (uploads read its token).
          onTokens: (tokens: SessionTokens) => {
            Object.assign(session, tokens);
            saveTokens(tokens);
          },
          storedTokens,
        }
      : {}),
  });
  const c: Ctx = {
    session,
    client,
    http: client.http,
    names: new Names(client.http, session.user),
    navigate: (hash) => {
      if (location.hash === hash) render();
      else location.hash = hash;
    },
    signOut: () => {
      void client.http.signOut().catch(() => undefined); // the local sign-out happens regardless
      offline.clear();
      stop();
    },
    rerender: () => render(),
  };
  ctx = c;
  banner = connectionBanner(client);
  client.on('closed', ({ code }) => {
    if (ctx === c && (code === 4401 || code === 4403)) {
      offline.clear();
      stop(t('auth.sessionEnded'));
    }
  });
  void client.connect().catch(() => undefined); // failures show through the connection banner
  const invite = pendingInvite.get();
  if (invite) {
    pendingInvite.set(undefined);
    c.navigate(`#/invite/${invite}`);
  } else render();
}

function stop(notice?: string): void {
  ctx?.client.close();
  ctx = undefined;
  saveSession(undefined);
  render(notice);
}

function render(notice?: string): void {
  if (cleanup) cleanup();
  cleanup = undefined;
  window.scrollTo(0, 0);
  const view = h('main', { class: 'view' });
  replace(root, ctx ? banner : null, view);
  if (!ctx) {
    // An operator's one-time sign-in link (docs/protocol.md §2 "Sign-in links").
    const linkCode = /^#\/link\/(.+)$/.exec(location.hash)?.[1];
    if (linkCode) {
      linkView(view, decodeURIComponent(linkCode), start);
      return;
    }
    const invite = /^#\/invite\/(.+)$/.exec(location.hash)?.[1];
    if (invite) pendingInvite.set(decodeURIComponent(invite));
    cleanup = authView(view, start, notice ?? (invite ? t('auth.invited') : undefined), () => render());
    return;
  }
  for (const [pattern, fn] of routes) {
    const match = pattern.exec(location.hash);
    if (match) {
      cleanup = fn(view, ctx, decodeURIComponent(match[1] ?? ''));
      return;
    }
  }
}

/** A thin bar saying when the connection is down and messages wait to be sent. */
function connectionBanner(client: BanyanClient): HTMLElement {
  const bar = h('div', { class: 'connection', role: 'status', 'data-state': client.state });
  const show = () => {
    bar.dataset.state = client.state;
    bar.textContent = client.state === 'reconnecting' ? t('app.offline') : '';
  };
  show();
  client.on('state', show);
  return bar;
}

document.documentElement.lang = language();
window.addEventListener('hashchange', () => render());
// The service worker keeps the app and what was read for offline use (and shows push notifications).
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
const saved = loadSession();
if (saved) start(saved);
else render();
