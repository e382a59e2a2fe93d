import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, screenshot, serverAndBrowser, signUpInBrowser } from '../helpers/browser.js';
import { tokenUser } from '../helpers/users.js';
import { connect } from '../helpers/ws-client.js';

const SESSION_KEY = 'banyan.session';

// The web client's notifications in Chromium: no permission prompt on first load, a visible
// opt-in, and the service worker at /sw.js showing a pushed payload (docs/protocol.md §8 "Notifications") with the
// right title and body, delivered through the DevTools Protocol (headless Chromium has no push
// service of its own to subscribe to).

describe.skipIf(!hasChromium)('web push in a real browser', { timeout: 120_000 }, () => {
  const live = serverAndBrowser();

  it('asks nothing on first load, offers an opt-in, and the service worker shows a pushed notification', async () => {
    const context = await live.browser.newContext();
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await signUpInBrowser(page, live.server.url, 'Asha');
    // First load: no permission asked (the worker is registered, for offline use, but does not
    // subscribe); the opt-in is there to press.
    // Page code as strings: this project's TypeScript has no DOM types outside web/.
    expect(await page.evaluate('Notification.permission')).toBe('default');
    await expect.poll(() => page.getByTestId('enable-push').isVisible(), { timeout: 10_000 }).toBe(true);

    await context.grantPermissions(['notifications'], { origin: live.server.url });
    const cdp = await context.newCDPSession(page);
    const registrationId = new Promise<string>((resolve) =>
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string }[] }) => {
        const r = e.registrations.find((x) => x.scopeURL === `${live.server.url}/`);
        if (r) resolve(r.registrationId);
      }),
    );
    await cdp.send('ServiceWorker.enable');
    await page.evaluate(
      "navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(() => navigator.serviceWorker.ready).then(() => true)",
    );
    const payload = {
      group: 'g_test',
      seq: 7,
      kind: 'announcement',
      sender: { id: 'u1', name: 'Asha' },
      title: 'Relief volunteers',
      body: 'Distribution moves to the school hall.',
      ts: new Date().toISOString(),
    };
    // The worker registered on load may still be activating when the first push is delivered, and
    // such a push is dropped: deliver again until it shows (one tag: a repeat replaces, never adds).
    const deliverAndShow = async () => {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: live.server.url,
        registrationId: await registrationId,
        data: JSON.stringify(payload),
      });
      return page.evaluate(
        'new Promise((r) => setTimeout(r, 200)).then(() => navigator.serviceWorker.ready).then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))',
      );
    };
    await expect
      .poll(deliverAndShow, { timeout: 10_000 })
      .toEqual([
        { title: 'Relief volunteers', body: 'Distribution moves to the school hall.', tag: 'g_test', data: { group: 'g_test', seq: 7 } },
      ]);
    await screenshot(page, 'push-opt-in');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a conversation sets its notification level; an admin sees each announcement’s reach, live', async () => {
    const context = await live.browser.newContext();
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await signUpInBrowser(page, live.server.url, 'Admin');
    const stored = () => page.evaluate(`localStorage.getItem(${JSON.stringify(SESSION_KEY)})`) as Promise<string | null>;
    // Sign-up hashes the password (scrypt) before the session is stored: on a loaded machine that
    // took longer than expect.poll's default second once in CI.
    await expect.poll(stored, { timeout: 10_000 }).not.toBeNull();
    const session = JSON.parse((await stored())!);
    const token = session.token as string;
    const c = (await live.server.http('POST', '/v1/communities', { token, body: { name: 'Relief' } })).body.community;
    const code = (await live.server.http('POST', `/v1/communities/${c.id}/invites`, { token, body: {} })).body.code;
    const member = await tokenUser(live.server, 'volunteer');
    await live.server.http('POST', `/v1/invites/${code}/join`, { token: member.token });
    const memberSocket = await connect(live.server.wsUrl, member.token);
    await page.goto(`${live.server.url}/#/g/${encodeURIComponent(c.announcementGroupId)}`);
    const select = page.getByTestId('notify-level');
    await expect.poll(() => select.inputValue()).toBe('all');
    await select.selectOption('none');
    await expect
      .poll(
        async () =>
          (await live.server.http('GET', '/v1/me', { token })).body.groups.find((g: { id: string }) => g.id === c.announcementGroupId)
            ?.level,
      )
      .toBe('none');
    const posted = await live.server.http('POST', `/v1/communities/${c.id}/announcements`, {
      token,
      body: { clientMsgId: 'b1', text: 'Meet at 6' },
    });
    expect(posted.status).toBe(201);
    // The member's socket got it (delivered 1), then reads it: the admin's page follows live.
    await memberSocket.next((f) => f.type === 'event' && f.seq === posted.body.seq);
    await memberSocket.request({ type: 'read', group: c.announcementGroupId, seq: posted.body.seq });
    const statsPath = `/v1/groups/${c.announcementGroupId}/messages/${posted.body.seq}/stats`;
    await expect
      .poll(async () => (await live.server.http('GET', statsPath, { token })).body, { timeout: 10_000 })
      .toMatchObject({ delivered: 1, read: 1 });
    await expect
      .poll(() => page.getByTestId('reach').last().textContent(), { timeout: 10_000 })
      .toBe('Reached 1 of 1: 1 online, 0 notified, 1 read');
    await screenshot(page, 'announcement-reach');
    memberSocket.terminate();
    expect(errors).toEqual([]);
    await context.close();
  });
});
