import { describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { collectPageErrors, hasChromium, PHONE, screenshot, serverAndBrowser, signUpInBrowser } from '../helpers/browser.js';
import { createGroup } from '../helpers/server.js';

// Two people in two browsers (separate contexts: separate storage) on phone-sized screens,
// using the web client the gateway serves at `/`. Screenshots go to test-results/screenshots.

if (!hasChromium) console.warn('[browser tests] skipped: /usr/bin/chromium is missing (apt-get install chromium)');

describe.skipIf(!hasChromium)('web client in a real browser', { timeout: 120_000 }, () => {
  const live = serverAndBrowser();
  const contexts: BrowserContext[] = [];

  const person = async () => {
    const context = await live.browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    contexts.push(context);
    const page = await context.newPage();
    return { page, errors: collectPageErrors(page) };
  };
  /** The user id, as the profile screen shows it (then back home). */
  const myId = async (page: Page) => {
    await page.getByTestId('my-name').click();
    const id = await page.getByTestId('my-id').textContent();
    await page.getByRole('link', { name: 'Back' }).click();
    return id;
  };
  const messages = (page: Page) => page.getByTestId('message').locator('.text');

  it('two people sign up, one starts a group with the other by user id, and they chat live', async () => {
    const asha = await person();
    const ben = await person();
    await signUpInBrowser(asha.page, live.server.url, 'Asha');
    await signUpInBrowser(ben.page, live.server.url, 'Ben');
    const benId = (await myId(ben.page))!;
    expect(benId).toMatch(/^u_/);
    await expect.poll(() => asha.page.getByTestId('my-name').textContent()).toBe('Asha');

    await asha.page.getByRole('link', { name: '+ New group' }).click();
    await asha.page.getByLabel('Name').fill('Volunteers');
    await asha.page.getByLabel('Add people by user id (optional)').fill(benId);
    await asha.page.getByRole('button', { name: 'Create group' }).click();
    await asha.page.getByTestId('composer').fill('Hello from Asha 👋');
    await asha.page.getByTestId('composer').press('Enter');
    await expect.poll(() => messages(asha.page).allTextContents()).toEqual(['Hello from Asha 👋']);

    // Ben was on his home screen all along: the group and its unread count arrive live.
    const row = ben.page.getByTestId('group-row').filter({ hasText: 'Volunteers' });
    await expect.poll(() => row.getByTestId('unread').textContent(), { timeout: 10_000 }).toBe('1');
    await screenshot(ben.page, 'group-home-unread');
    await row.click();
    await expect.poll(() => messages(ben.page).allTextContents()).toEqual(['Hello from Asha 👋']);
    // Ben's read marker reaches Asha as a receipt under her message, fetched when she asks (a
    // tap) or when something suggests it changed (Ben typing, below): never polled.
    await expect.poll(() => asha.page.getByTestId('receipt').textContent(), { timeout: 10_000 }).toBe('Seen by 0 of 1');
    await asha.page.getByTestId('receipt').click();
    await expect.poll(() => asha.page.getByTestId('receipt').textContent(), { timeout: 10_000 }).toBe('Seen by 1 of 1');

    // Typing shows on the other side, then the reply arrives live.
    await ben.page.getByTestId('composer').pressSequentially('Hi Asha');
    await expect.poll(() => asha.page.getByTestId('typing').textContent()).toBe('Ben is typing…');
    await ben.page.getByTestId('composer').press('Enter');
    await expect.poll(() => messages(asha.page).allTextContents()).toEqual(['Hello from Asha 👋', 'Hi Asha']);
    await expect.poll(() => messages(ben.page).allTextContents()).toEqual(['Hello from Asha 👋', 'Hi Asha']);
    await expect.poll(() => asha.page.locator('.message:not(.mine) .sender').allTextContents()).toEqual(['Ben']);
    await screenshot(asha.page, 'group-conversation-asha');
    await screenshot(ben.page, 'group-conversation-ben');

    // Ben read everything: back home, no unread badge.
    await ben.page.getByRole('link', { name: 'Back' }).click();
    await expect.poll(() => ben.page.getByTestId('group-row').filter({ hasText: 'Volunteers' }).getByTestId('unread').count()).toBe(0);
    expect([...asha.errors, ...ben.errors]).toEqual([]);
  });

  it('shows unread counts on sign-in and loads older messages on scrolling up', async () => {
    const [asha, ben] = [await live.server.signUp(), await live.server.signUp()];
    const group = await createGroup(live.server, asha, [ben], 'Archive');
    for (let i = 0; i < 70; i++) {
      const r = await live.server.http('POST', `/v1/groups/${group}/messages`, {
        token: asha.token,
        body: { clientMsgId: `o${i}`, text: `old ${i}` },
      });
      expect(r.status).toBe(201);
    }
    const { page, errors } = await person();
    await page.goto(live.server.url);
    await page.getByLabel('Username').fill(ben.name); // the test helper's usernames are the names
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const row = page.getByTestId('group-row').filter({ hasText: 'Archive' });
    await expect.poll(() => row.getByTestId('unread').textContent(), { timeout: 10_000 }).toBe('70');
    await row.click();
    await expect.poll(() => messages(page).count()).toBe(50);
    expect(await messages(page).last().textContent()).toBe('old 69');
    await page.getByTestId('messages').evaluate((el) => el.scrollTo(0, 0));
    await expect.poll(() => messages(page).count()).toBe(70);
    expect(await messages(page).first().textContent()).toBe('old 0');
    await expect.poll(() => page.locator('.older').textContent()).toBe('This is the beginning of the conversation.');
    expect(errors).toEqual([]);
  });

  it('shows a clear error for a wrong password', async () => {
    const { page } = await person();
    await page.goto(live.server.url);
    await page.getByLabel('Username').fill('nobody-here');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByTestId('error').textContent(), { timeout: 10_000 }).toBe('Wrong username or password.');
  });

  it('an admin creates a community and an invite, a member joins by the link and sees announcements live', async () => {
    const probe = await live.server.http('POST', '/v1/communities', { token: (await live.server.signUp()).token, body: { name: 'probe' } });
    expect(probe.status, 'POST /v1/communities').toBe(201);
    const admin = await person();
    const member = await person();
    await signUpInBrowser(admin.page, live.server.url, 'Asha');
    await admin.page.getByRole('link', { name: '+ New community' }).click();
    await admin.page.getByLabel('Name').fill('Riverside Volunteers');
    await admin.page.getByLabel('Description (optional)').fill('Cleaning the river banks every Saturday.');
    await admin.page.getByRole('button', { name: 'Create community' }).click();
    await admin.page.getByRole('button', { name: 'Create invite link' }).click();
    const invite = (await admin.page.getByTestId('invite-link').inputValue())!;
    expect(invite).toMatch(new RegExp(`^${live.server.url}/#/invite/.+`));
    await screenshot(admin.page, 'community-admin');

    // The member opens the link signed out and signs up there: the sign-up joins by the link in
    // the same step (docs/protocol.md §2), and the community's page opens.
    await signUpInBrowser(member.page, invite, 'Ben');
    await expect.poll(() => member.page.locator('header h1').textContent(), { timeout: 10_000 }).toBe('Riverside Volunteers');
    await member.page.getByTestId('announcement-row').click();
    await expect.poll(() => member.page.locator('.composer .hint').textContent()).toBe('Only community admins post announcements.');

    await admin.page.getByTestId('announcement-text').fill('Saturday 9:00 at the old bridge. Bring gloves!');
    await admin.page.getByRole('button', { name: 'Announce' }).click();
    await expect
      .poll(() => messages(member.page).allTextContents(), { timeout: 10_000 })
      .toEqual(['Saturday 9:00 at the old bridge. Bring gloves!']);
    await screenshot(member.page, 'community-announcement-member');
    expect([...admin.errors, ...member.errors]).toEqual([]);
  });
  it('invitations: accept and decline from the home screen; block and unblock in a direct chat', async () => {
    const [asha, ben] = [await live.server.signUp(), await live.server.signUp()];
    expect((await live.server.http('PATCH', '/v1/me', { token: ben.token, body: { privacy: { groupAdd: 'nobody' } } })).status).toBe(200);
    const { page, errors } = await person();
    await page.goto(live.server.url);
    await page.getByLabel('Username').fill(ben.name);
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByTestId('my-name').textContent()).toBe(ben.name);
    for (const name of ['Garden', 'Spam']) {
      const r = await live.server.http('POST', '/v1/groups', { token: asha.token, body: { name, members: [ben.id] } });
      expect(r.body.invited).toEqual([ben.id]);
    }
    const invitation = (name: string) => page.getByTestId('invitation').filter({ hasText: name });
    await expect.poll(() => page.getByTestId('invitation').count(), { timeout: 10_000 }).toBe(2);
    await screenshot(page, 'invitations-home');
    await invitation('Spam').getByRole('button', { name: 'Decline' }).click();
    await expect.poll(() => page.getByTestId('invitation').count()).toBe(1);
    await invitation('Garden').getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => page.getByTestId('invitation').count()).toBe(0);
    await expect.poll(() => page.getByTestId('group-row').filter({ hasText: 'Garden' }).count(), { timeout: 10_000 }).toBe(1);

    // A direct chat with Asha (they now share Garden): block, and her message is refused; unblock.
    const direct = await live.server.http('POST', '/v1/direct', { token: asha.token, body: { userId: ben.id } });
    expect(direct.status).toBe(201);
    await expect.poll(() => page.getByTestId('group-row').count(), { timeout: 10_000 }).toBe(2); // Garden and the direct chat
    await page.goto(`${live.server.url}/#/g/${direct.body.group.id}`);
    await expect.poll(() => page.getByTestId('block').textContent(), { timeout: 10_000 }).toBe('Block');
    await page.getByTestId('block').click();
    await expect.poll(() => page.getByTestId('block').textContent()).toBe('Unblock');
    const refused = await live.server.http('POST', `/v1/groups/${direct.body.group.id}/messages`, {
      token: asha.token,
      body: { clientMsgId: 'b1', text: 'hello?' },
    });
    expect(refused.status).toBe(403);
    await screenshot(page, 'direct-blocked');
    await page.getByTestId('block').click();
    await expect.poll(() => page.getByTestId('block').textContent()).toBe('Block');
    expect((await live.server.http('GET', '/v1/blocks', { token: ben.token })).body.blocks).toEqual([]);
    expect(errors).toEqual([]);
  });
});
