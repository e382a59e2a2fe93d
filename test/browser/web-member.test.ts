import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, launchChromium } from '../helpers/browser.js';
import { createGroup, startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { checkScreen, signedInPage } from '../helpers/web.js';

// The member's web client (issue 15), end to end against a real server in real Chromium: two or
// three people in separate browser contexts. Each screen is checked with axe-core (no serious or
// critical violations) and photographed at phone (360×740) and desktop width.

describe.skipIf(!hasChromium)('web client: the member', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  const pageErrors: string[][] = [];
  beforeAll(async () => {
    // Disappearing messages go within a fifth of a second of their time.
    [server, browser] = await Promise.all([startServer({ env: { EXPIRY_SWEEP_MS: '200', MESSAGE_TTL_ALLOWED: '2' } }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const open = async (user: TestUser, hash = '', locale?: string) => {
    const page = await signedInPage(browser, server, user, locale);
    pageErrors.push(collectPageErrors(page));
    if (hash) await page.goto(`${server.url}/${hash}`);
    return page;
  };
  /** A member with a display name (screenshots read like a real community). */
  const named = async (name: string): Promise<TestUser> => {
    const user = await server.signUp();
    expect((await server.http('PATCH', '/v1/me', { token: user.token, body: { name } })).status).toBe(200);
    return { ...user, name };
  };
  const texts = (page: Page) => page.getByTestId('message').locator('.text').allTextContents();
  const post = async (user: TestUser, group: string, text: string, extra: Record<string, unknown> = {}) => {
    const r = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: user.token,
      body: { clientMsgId: `m${Math.random()}`, text, ...extra },
    });
    expect(r.status).toBe(201);
    return r.body.seq as number;
  };

  it('chats with replies, reactions, @mentions and safe links; one row per event; receipts on demand', async () => {
    const [asha, ben] = [await named('Asha Devi'), await named('Ben Kumar')];
    const group = await createGroup(server, asha, [ben], 'Garden');
    const first = await post(asha, group, 'Seeds arrive on Friday: https://example.org/seeds. Who can help?');
    await post(asha, group, 'Do not click <b>this</b> javascript:alert(1)');
    const a = await open(asha, `#/g/${group}`);
    const b = await open(ben, `#/g/${group}`);
    await expect.poll(() => texts(b)).toHaveLength(2);

    // Links: only http(s), opening apart from the app; nothing from a message becomes HTML.
    const link = b.getByTestId('message').first().locator('.text a');
    expect(await link.getAttribute('href')).toBe('https://example.org/seeds');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await b.getByTestId('message').nth(1).locator('.text a, .text b').count()).toBe(0);
    // Dates: a day separator through Intl.
    expect(await b.locator('.day-sep').first().textContent()).toBe('Today');

    // Keyed list: a new message adds one row and leaves the others' elements as they were.
    await b
      .getByTestId('message')
      .first()
      .evaluate((el) => ((el as unknown as { marked: boolean }).marked = true));

    // Ben replies to the first message (quoted), mentioning Asha through the autocomplete.
    await b.getByTestId('message').first().getByTestId('message-actions').click();
    await b.getByTestId('message').first().getByTestId('reply').click();
    await expect.poll(() => b.getByTestId('reply-bar').textContent()).toContain('Seeds arrive on Friday');
    const composer = b.getByTestId('composer');
    await composer.pressSequentially('I can, @Ash');
    await expect.poll(() => b.getByTestId('mention-list').locator('[role=option]').allTextContents()).toEqual([asha.name]);
    await composer.press('Enter'); // picks the name
    await composer.pressSequentially('see you there');
    await composer.press('Enter'); // sends
    await expect.poll(() => texts(a)).toHaveLength(3);
    const reply = a.getByTestId('message').nth(2);
    expect(await reply.getByTestId('reply-quote').textContent()).toContain('Seeds arrive on Friday');
    expect(await reply.locator('.mention').textContent()).toBe(`@${asha.name}`);
    expect(await reply.getAttribute('class')).toContain('mentions-me');
    expect(
      await b
        .getByTestId('message')
        .first()
        .evaluate((el) => (el as unknown as { marked?: boolean }).marked),
    ).toBe(true);

    // Asha reacts to Ben's reply: Ben sees the count live.
    await reply.getByTestId('message-actions').click();
    await reply.getByRole('button', { name: 'React with 🙏' }).click();
    await expect.poll(() => b.getByTestId('message').nth(2).getByTestId('reactions').textContent(), { timeout: 10_000 }).toBe('🙏 1');
    await expect.poll(() => reply.getByTestId('reactions').getByRole('button').getAttribute('aria-pressed')).toBe('true');

    // Receipts: fetched when something suggests a change, never polled.
    await a.getByTestId('composer').fill('Thanks!');
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => a.getByTestId('receipt').textContent(), { timeout: 10_000 }).toMatch(/^Seen by [01] of 1$/);
    await b.waitForTimeout(3100); // typing frames go out at most every 3 s
    await b.getByTestId('composer').pressSequentially('ok'); // Ben typing: Asha checks again
    await expect.poll(() => a.getByTestId('receipt').textContent(), { timeout: 10_000 }).toBe('Seen by 1 of 1');
    let receiptCalls = 0;
    a.on('request', (r) => r.url().includes('/receipts') && receiptCalls++);
    await a.waitForTimeout(5000);
    expect(receiptCalls).toBe(0);

    expect(await checkScreen(a, 'conversation')).toEqual([]);
    expect(first).toBeGreaterThan(0);
  });

  it('lists show last messages and unread counts; a direct chat shows the other person; profile and notification settings', async () => {
    const [asha, ben] = [await named('Asha Devi'), await named('Ben')];
    const group = await createGroup(server, asha, [ben], 'Volunteers');
    await post(asha, group, 'Meeting moved to 6 pm');
    const direct = await server.http('POST', '/v1/direct', { token: asha.token, body: { userId: ben.id } });
    await post(asha, direct.body.group.id, 'Hi Ben, a word in private?');
    const b = await open(ben);
    const row = (name: string) => b.getByTestId('group-row').filter({ has: b.locator('.title', { hasText: name }) });
    await expect
      .poll(() => row('Volunteers').getByTestId('preview').textContent(), { timeout: 10_000 })
      .toBe(`${asha.name}: Meeting moved to 6 pm`);
    await expect.poll(() => row('Volunteers').getByTestId('unread').textContent()).toBe('1');
    // The direct chat is named after Asha, and previews her message.
    await expect.poll(() => row(asha.name).getByTestId('preview').textContent(), { timeout: 10_000 }).toBe('Hi Ben, a word in private?');
    // A new message moves its group's row and preview, live.
    await post(asha, group, 'Bring water');
    await expect.poll(() => row('Volunteers').getByTestId('preview').textContent(), { timeout: 10_000 }).toBe(`${asha.name}: Bring water`);
    await expect.poll(() => b.getByTestId('group-row').first().textContent()).toContain('Volunteers');
    expect(await checkScreen(b, 'home')).toEqual([]);

    await row(asha.name).click();
    await expect.poll(() => b.getByTestId('title').textContent(), { timeout: 10_000 }).toBe(asha.name);
    await b.getByTestId('notify-level').selectOption('mentions');
    await expect
      .poll(
        async () =>
          (await server.http('GET', '/v1/me', { token: ben.token })).body.groups.find((g: { id: string }) => g.id === direct.body.group.id)
            ?.level,
      )
      .toBe('mentions');
    expect(await checkScreen(b, 'direct')).toEqual([]);

    // Profile: a new name, seen by the others.
    await b.goto(`${server.url}/#/me`);
    await b.getByLabel('Your name').fill('Ben Kumar');
    await b.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => b.getByTestId('profile-status').textContent()).toBe('Saved.');
    // A picture: uploaded, then set as the avatar; shown, and given by GET /v1/users/:id.
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#d97706' } })
      .png()
      .toBuffer();
    await b.getByTestId('avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
    await expect.poll(() => b.getByTestId('avatar').isVisible(), { timeout: 10_000 }).toBe(true);
    const profile = await server.http('GET', `/v1/users/${ben.id}`, { token: asha.token });
    expect(profile.body.user.avatar).toMatch(/.+/);
    expect(await checkScreen(b, 'profile')).toEqual([]);
    const members = await server.http('GET', `/v1/groups/${group}/members`, { token: asha.token });
    expect(members.body.members.find((m: { userId: string }) => m.userId === ben.id).name).toBe('Ben Kumar');
  });

  it('community: a group with role null shows Join; an invite link shows what it leads to before joining', async () => {
    const [admin, member, newcomer] = [await named('Meera'), await named('Ben Kumar'), await named('Chitra')];
    const created = await server.http('POST', '/v1/communities', {
      token: admin.token,
      body: { name: 'Riverside', description: 'River clean-ups' },
    });
    const community = created.body.community;
    const open1 = await server.http('POST', `/v1/communities/${community.id}/groups`, {
      token: admin.token,
      body: { name: 'Saturday crew', settings: { open: true } },
    });
    expect(open1.status).toBe(201);
    const invite = (await server.http('POST', `/v1/communities/${community.id}/invites`, { token: admin.token, body: {} })).body.code;
    expect((await server.http('POST', `/v1/invites/${invite}/join`, { token: member.token })).status).toBe(200);
    // The documented summary of a group the member may join: role null, join open.
    const detail = await server.http('GET', `/v1/communities/${community.id}`, { token: member.token });
    expect(detail.body.groups.find((g: { id: string }) => g.id === open1.body.group.id)).toMatchObject({ role: null, join: 'open' });

    const m = await open(member, `#/c/${community.id}`);
    const join = m.getByRole('button', { name: 'Join' });
    await join.waitFor({ timeout: 10_000 });
    await join.click();
    await expect.poll(() => m.getByTestId('title').textContent(), { timeout: 10_000 }).toBe('Saturday crew');

    // The newcomer opens the link: name, description and size first; joining only on Join.
    const preview = await server.http('GET', `/v1/invites/${invite}`, { token: newcomer.token });
    expect(preview.body).toEqual({
      community: { name: 'Riverside', description: 'River clean-ups', memberCount: 2 },
      approvalRequired: false,
    });
    const n = await open(newcomer, `#/invite/${invite}`);
    await expect.poll(() => n.getByTestId('invite-preview').locator('h2').textContent(), { timeout: 10_000 }).toBe('Riverside');
    expect(await n.getByTestId('invite-preview').textContent()).toContain('2 members');
    expect(await checkScreen(n, 'invite-preview')).toEqual([]);
    expect((await server.http('GET', '/v1/me', { token: newcomer.token })).body.communities).toEqual([]);
    await n.getByTestId('invite-join').click();
    await expect.poll(() => n.locator('header h1').textContent(), { timeout: 10_000 }).toBe('Riverside');

    // A revoked or unknown code: not found, alike.
    expect((await server.http('DELETE', `/v1/communities/${community.id}/invites/${invite}`, { token: admin.token })).status).toBe(204);
    expect((await server.http('GET', `/v1/invites/${invite}`, { token: newcomer.token })).status).toBe(404);
    expect((await server.http('GET', '/v1/invites/nope', { token: newcomer.token })).status).toBe(404);
    expect((await server.http('GET', `/v1/invites/${invite}`, {})).status).toBe(401);
  });

  it('replies privately to an announcement, quoting it', async () => {
    const [admin, member] = [await named('Meera'), await named('Ben Kumar')];
    const community = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Ward 7' } })).body.community;
    const invite = (await server.http('POST', `/v1/communities/${community.id}/invites`, { token: admin.token, body: {} })).body.code;
    await server.http('POST', `/v1/invites/${invite}/join`, { token: member.token });
    const announced = await server.http('POST', `/v1/communities/${community.id}/announcements`, {
      token: admin.token,
      body: { clientMsgId: 'a1', text: 'Vaccination camp on Sunday at the school.' },
    });
    expect(announced.status).toBe(201);
    const m = await open(member, `#/g/${community.announcementGroupId}`);
    await expect.poll(() => texts(m), { timeout: 10_000 }).toEqual(['Vaccination camp on Sunday at the school.']);
    expect(await checkScreen(m, 'announcements')).toEqual([]);
    await m.getByTestId('message-actions').click();
    await m.getByTestId('reply-privately').click();
    await expect.poll(() => m.getByTestId('reply-bar').textContent(), { timeout: 10_000 }).toContain('Vaccination camp on Sunday');
    await m.getByTestId('composer').fill('Can I bring my mother?');
    await m.getByTestId('composer').press('Enter');
    await expect
      .poll(() => m.getByTestId('message').locator('blockquote').textContent(), { timeout: 10_000 })
      .toBe('Ward 7: Vaccination camp on Sunday at the school.');
    const a = await open(admin);
    const row = a.getByTestId('group-row').filter({ hasText: member.name });
    await expect.poll(() => row.getByTestId('preview').textContent(), { timeout: 10_000 }).toContain('Can I bring my mother?');
  });

  it('in Hindi: follows the browser, switches back to English; user text keeps its own direction', async () => {
    const [asha, ben] = [await named('आशा'), await named('Ben Kumar')];
    const group = await createGroup(server, asha, [ben], 'बगीचा');
    await post(asha, group, 'مرحبا بالجميع');
    const b = await open(ben, '', 'hi-IN');
    await expect.poll(() => b.locator('#groups-title').textContent(), { timeout: 10_000 }).toBe('समूह');
    expect(await b.locator('html').getAttribute('lang')).toBe('hi');
    expect(await checkScreen(b, 'home-hindi')).toEqual([]);
    await b.getByTestId('group-row').first().click();
    await expect.poll(() => texts(b), { timeout: 10_000 }).toEqual(['مرحبا بالجميع']);
    expect(await b.getByTestId('message').locator('.text').getAttribute('dir')).toBe('auto');
    expect(await b.getByTestId('composer').getAttribute('placeholder')).toBe('संदेश');
    await b.goto(`${server.url}/#/`);
    await b.getByTestId('language').selectOption('en');
    await expect.poll(() => b.locator('#groups-title').textContent()).toBe('Groups');
  });

  it('sign-in and forms pass axe; keyboard alone signs in and sends', async () => {
    const asha = await server.signUp();
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, serviceWorkers: 'block' });
    const page = await context.newPage();
    pageErrors.push(collectPageErrors(page));
    await page.goto(server.url);
    await page.getByLabel('Username').waitFor();
    expect(await checkScreen(page, 'sign-in')).toEqual([]);
    // Keyboard only: the username field has focus; Tab to the password, Enter submits.
    await page.keyboard.type(asha.name);
    await page.keyboard.press('Tab');
    await page.keyboard.type('password-123');
    await page.keyboard.press('Enter');
    await page.getByTestId('my-name').waitFor({ timeout: 10_000 });
    await page.goto(`${server.url}/#/new-group`);
    await page.getByLabel('Name').waitFor();
    expect(await checkScreen(page, 'new-group')).toEqual([]);
    await page.keyboard.type('Keyboard club');
    await page.keyboard.press('Enter');
    await page.getByTestId('composer').waitFor({ timeout: 10_000 });
    await page.getByTestId('composer').focus();
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');
    await expect.poll(() => texts(page), { timeout: 10_000 }).toEqual(['typed without a mouse']);
    // The message's actions open from the keyboard too.
    await page.getByTestId('message-actions').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('reply').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('reply-bar').isVisible()).toBe(true);
    await page.goto(`${server.url}/#/new-community`);
    await page.getByLabel('Name').waitFor();
    expect(await checkScreen(page, 'new-community')).toEqual([]);
  });

  it('works offline for what was loaded: the shell from the service worker, the conversation from the device', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben], 'Offline readers');
    await post(asha, group, 'Read me without a network');
    const page = await signedInPage(browser, server, ben, 'en-US', 'allow');
    const context = page.context();
    pageErrors.push(collectPageErrors(page));
    await page.goto(`${server.url}/#/g/${group}`);
    await expect.poll(() => texts(page), { timeout: 10_000 }).toEqual(['Read me without a network']);
    await page.evaluate('navigator.serviceWorker.ready.then(() => true)');
    await page.goto(`${server.url}/#/`); // leaving the conversation keeps its copy
    await expect.poll(() => page.getByTestId('group-row').count(), { timeout: 10_000 }).toBe(1);
    await page.waitForTimeout(300);

    await context.setOffline(true);
    await page.reload();
    await expect.poll(() => page.getByTestId('group-row').filter({ hasText: 'Offline readers' }).count(), { timeout: 10_000 }).toBe(1);
    await page.getByTestId('group-row').first().click();
    await expect.poll(() => texts(page), { timeout: 10_000 }).toEqual(['Read me without a network']);
    await context.close();
  });

  it('pins show above the conversation; disappearing messages say when they go, then go', async () => {
    const [asha, ben] = [await named('Asha Devi'), await named('Ben Kumar')];
    const group = await createGroup(server, asha, [ben], 'Planning');
    await post(asha, group, 'Meeting point: the old banyan tree, gate 2');
    await post(asha, group, 'Other news');
    const a = await open(asha, `#/g/${group}`);
    const b = await open(ben, `#/g/${group}`);
    await expect.poll(() => texts(a), { timeout: 10_000 }).toHaveLength(2);
    const first = a.getByTestId('message').first();
    await first.getByTestId('message-actions').click();
    await first.getByTestId('pin').click();
    await expect
      .poll(() => b.getByTestId('pin').allTextContents(), { timeout: 10_000 })
      .toEqual(['📌 Meeting point: the old banyan tree, gate 2']);
    expect(await b.getByTestId('message').first().locator('.pinned-mark').count()).toBe(1);
    // Ben is not an admin: no Pin among his actions.
    await b.getByTestId('message').first().getByTestId('message-actions').click();
    expect(await b.getByTestId('message').first().getByTestId('unpin').count()).toBe(0);
    // Presence in a small group: Asha is here, then gone.
    await expect.poll(() => b.getByTestId('presence').textContent(), { timeout: 10_000 }).toBe('1 online: Asha Devi');
    expect(await checkScreen(b, 'pins')).toEqual([]);

    // Disappearing messages: on for the group, a message shows ⏳, then disappears for both.
    const ttl = await server.http('PATCH', `/v1/groups/${group}`, { token: asha.token, body: { settings: { messageTtlS: 2 } } });
    expect(ttl.status).toBe(200);
    await a.getByTestId('composer').fill('This goes in two seconds');
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => b.getByTestId('message').last().locator('.expires').count(), { timeout: 10_000 }).toBe(1);
    await expect
      .poll(() => b.getByTestId('message').last().locator('.text').textContent(), { timeout: 10_000 })
      .toBe('message disappeared');
    await expect
      .poll(() => a.getByTestId('message').last().locator('.text').textContent(), { timeout: 10_000 })
      .toBe('message disappeared');
    await a.context().close();
    await expect.poll(() => b.getByTestId('presence').textContent(), { timeout: 10_000 }).toBe('');
  });

  it('polls: create and vote; events: create, see the time in your own zone, and answer', async () => {
    const [asha, ben] = [await named('Asha Devi'), await named('Ben Kumar')];
    const group = await createGroup(server, asha, [ben], 'Clean-up crew');
    const a = await open(asha, `#/g/${group}`);
    const b = await signedInPage(browser, server, ben, 'en-IN', 'block', 'Asia/Kolkata');
    pageErrors.push(collectPageErrors(b));
    await b.goto(`${server.url}/#/g/${group}`);
    await a.getByTestId('composer').waitFor({ timeout: 10_000 });
    await a.getByTestId('new-poll').click();
    await a.getByTestId('poll-question').fill('Which Saturday?');
    await a.getByTestId('poll-options').fill('5 December\n12 December');
    await a.getByRole('button', { name: 'Send poll' }).click();
    const option = (page: Page, i: number) => page.getByTestId('poll').getByTestId('poll-option').nth(i);
    await expect.poll(() => option(b, 1).textContent(), { timeout: 10_000 }).toBe('12 December0');
    await option(b, 1).click();
    await expect.poll(() => option(b, 1).getAttribute('aria-pressed'), { timeout: 10_000 }).toBe('true');
    // Asha's count follows Ben's vote (the vote event makes her fetch the counts).
    await expect.poll(() => option(a, 1).textContent(), { timeout: 10_000 }).toBe('12 December1');

    // An event at 09:00 UTC: Ben, in India, sees 2:30 pm IST.
    const startsAt = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 0, 10, 9, 0)).toISOString();
    const sent = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: asha.token,
      body: { clientMsgId: 'ev1', text: '', event: { title: 'River clean-up', startsAt, location: 'Old bridge' } },
    });
    expect(sent.status).toBe(201);
    await expect.poll(() => b.getByTestId('event-time').textContent(), { timeout: 10_000 }).toMatch(/2:30\s?pm.*(IST|GMT\+5:30)/i);
    await b.getByTestId('rsvp-going').click();
    await expect.poll(() => b.getByTestId('rsvp-going').getAttribute('aria-pressed'), { timeout: 10_000 }).toBe('true');
    await expect.poll(() => a.getByTestId('rsvp-going').textContent(), { timeout: 10_000 }).toBe('Going · 1');
    expect(await checkScreen(b, 'poll-event')).toEqual([]);

    // Creating an event from the composer: the time typed is the creator's own.
    await a.getByTestId('new-event').click();
    await a.getByTestId('event-title').fill('Planning call');
    await a.getByTestId('event-start').fill(`${new Date().getFullYear() + 1}-02-01T18:00`);
    await a.getByRole('button', { name: 'Send event' }).click();
    await expect.poll(() => b.getByTestId('event').count(), { timeout: 10_000 }).toBe(2);
  });

  it('had no errors in any page', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
