import { t } from './i18n/index.js';
import type { BanyanClient } from '../../src/client/index.js';

// Opt-in to Web Push, only when the user asks (a button after sign-in): never a permission
// prompt on first load.

export const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

/** Already on: permission granted and this browser subscribed. */
export async function pushEnabled(): Promise<boolean> {
  if (!pushSupported() || Notification.permission !== 'granted') return false;
  const registration = await navigator.serviceWorker.getRegistration('/');
  return Boolean(await registration?.pushManager.getSubscription());
}

/** Asks for permission, registers /sw.js, subscribes with the server's VAPID key and registers the subscription. */
export async function enablePush(client: BanyanClient): Promise<void> {
  if ((await Notification.requestPermission()) !== 'granted') throw new Error(t('home.push.blocked'));
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const registration = await navigator.serviceWorker.ready;
  const { publicKey } = await client.http.vapidKey();
  const key = Uint8Array.from(atob(publicKey.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  const json = subscription.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
  await client.subscribePush(json);
}
