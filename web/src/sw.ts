// The web client's service worker: shows a Web Push notification (PROTOCOL.md §7 payload) and
// opens the conversation when it is clicked. Served at /sw.js (scope /), never hashed.

interface PushPayload {
  group?: string;
  seq?: number;
  title?: string;
  body?: string;
}
interface WorkerScope {
  addEventListener(
    type: 'push',
    listener: (event: { data: { json(): unknown } | null; waitUntil(p: Promise<unknown>): void }) => void,
  ): void;
  addEventListener(
    type: 'notificationclick',
    listener: (event: { notification: Notification; waitUntil(p: Promise<unknown>): void }) => void,
  ): void;
  registration: ServiceWorkerRegistration;
  clients: {
    matchAll(options: {
      type: 'window';
      includeUncontrolled: boolean;
    }): Promise<{ focus(): Promise<unknown>; navigate(url: string): Promise<unknown> }[]>;
    openWindow(url: string): Promise<unknown>;
  };
}
const worker = self as unknown as WorkerScope;

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
