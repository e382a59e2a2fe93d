// The web client's service worker (served at /sw.js, scope /, never hashed):
// - keeps the app shell of this build (SHELL, from web/build.mjs) so the app opens offline;
// - keeps a copy of what the app already read over HTTP (GET /v1/…) and answers with it when the
//   network is down, so what was loaded can be read offline (the page also keeps its own copy
//   of conversations, web/src/offline.ts); the page empties that copy on sign-out;
// - shows Web Push notifications (docs/protocol.md §8 "Notifications" payload) and opens the conversation on click.

declare const SHELL: string[];
declare const SHELL_VERSION: string;

interface PushPayload {
  group?: string;
  seq?: number;
  title?: string;
  body?: string;
}
interface ExtendableEvent {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(r: Promise<Response> | Response): void;
}
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'push', listener: (event: ExtendableEvent & { data: { json(): unknown } | null }) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: ExtendableEvent & { notification: Notification }) => void): void;
  registration: ServiceWorkerRegistration;
  skipWaiting(): Promise<void>;
  clients: {
    claim(): Promise<void>;
    matchAll(options: {
      type: 'window';
      includeUncontrolled: boolean;
    }): Promise<{ focus(): Promise<unknown>; navigate(url: string): Promise<unknown> }[]>;
    openWindow(url: string): Promise<unknown>;
  };
}
const worker = self as unknown as WorkerScope;
const SHELL_CACHE = `banyan-shell-${SHELL_VERSION}`;
/** Same name in web/src/offline.ts, which deletes it on sign-out. */
const DATA_CACHE = 'banyan-data';

worker.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('banyan-shell-') && n !== SHELL_CACHE).map((n) => caches.delete(n))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (request.mode === 'navigate') {
    // The page itself: fresh when online (a new build), the kept shell when not.
    event.respondWith(fetch(request).catch(() => caches.match('/', { cacheName: SHELL_CACHE }).then((r) => r ?? Response.error())));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(caches.match(request).then((r) => r ?? fetch(request)));
  } else if (url.pathname.startsWith('/v1/') && !url.pathname.startsWith('/v1/attachments') && url.pathname !== '/v1/ws') {
    event.respondWith(
      fetch(request).then(
        (response) => {
          if (response.ok) {
            const copy = response.clone();
            void caches.open(DATA_CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        },
        async (err: unknown) => (await caches.match(request, { cacheName: DATA_CACHE })) ?? Promise.reject(err),
      ),
    );
  }
});

worker.addEventListener('push', (event) => {
  let data: PushPayload = {};
  try {
    data = (event.data?.json() ?? {}) as PushPayload;
  } catch {
    // Not JSON: show a plain notice.
  }
  event.waitUntil(
    worker.registration.showNotification(data.title ?? 'Banyan', {
      body: data.body ?? 'New messages',
      // One notification per group: a newer push replaces the older one (as Topic does upstream).
      ...(data.group ? { tag: data.group } : {}),
      data: { group: data.group, seq: data.seq },
    }),
  );
});

worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const group = (event.notification.data as { group?: string } | null)?.group;
  const url = group ? `/#/g/${encodeURIComponent(group)}` : '/';
  event.waitUntil(
    worker.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(async (windows) => {
      const open = windows[0];
      if (!open) return worker.clients.openWindow(url);
      await open.navigate(url);
      return open.focus();
    }),
  );
});
