import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, launchChromium, screenshot } from '../helpers/browser.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';

// The coordinator's web client end to end: a coordinator, a member and a newcomer in three
// browser contexts against a real server. Every action is done with the keyboard alone (Tab to
// it, then Enter, Space or arrows); every screen is checked with axe-core (no serious or critical
// violations) and photographed at 360×740 and 1280×800 under test-results/screenshots.

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

type Person = { user: TestUser; page: Page; errors: string[] };

describe.skipIf(!hasChromium)('coordinator web client in a real browser', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let coordinator: Person;
  let member: Person;
  let newcomer: Person;
  let community: { id: string; announcementGroupId: string };
  const groupIds: Record<string, string> = {};

  beforeAll(async () => {
    // The protocol's default privacy: people not sharing a visible group are invited, not added.
    [server, browser] = await Promise.all([startServer({ env: { DEFAULT_GROUP_ADD: 'shared' } }), launchChromium()]);
    const [asha, ben, chitra] = await Promise.all([server.signUp(), server.signUp(), server.signUp()]);
    for (const [u, name] of [
      [asha!, 'Asha Coordinator'],
      [ben!, 'Ben Volunteer'],
      [chitra!, 'Chitra Newcomer'],
    ] as const) {
      expect((await server.http('PATCH', '/v1/me', { token: u.token, body: { name } })).status).toBe(200);
    }
    const created = await server.http('POST', '/v1/communities', {
      token: asha!.token,
      body: { name: 'Riverside Volunteers', description: 'Cleaning the river banks every Saturday.' },
    });
    community = created.body.community;
    const invite = await server.http('POST', `/v1/communities/${community.id}/invites`, { token: asha!.token, body: {} });
    expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: ben!.token })).status).toBe(200);
    coordinator = await person(asha!, PHONE);
    member = await person(ben!, PHONE);
    newcomer = await person(chitra!, DESKTOP);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A browser context signed in as `user` (the session the sign-in form would store). */
  async function person(user: TestUser, viewport: { width: number; height: number }): Promise<Person> {
    const context = await browser.newContext({ viewport });
    const session = { token: user.token, user: { id: user.id, name: user.name }, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    const stored = JSON.stringify(JSON.stringify(session));
    await context.addInitScript({
      content: `if (!localStorage.getItem('banyan.session')) localStorage.setItem('banyan.session', ${stored});`,
    });
    const page = await context.newPage();
    return { user, page, errors: collectPageErrors(page) };
  }

  const open = async (p: Person, hash: string) => {
    await p.page.goto(`${server.url}/${hash}`);
    await p.page.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 });
  };

  /** Presses Tab until `target` has the focus (so it is in the tab order), or fails. */
  async function tabTo(page: Page, target: Locator, maxTabs = 150): Promise<void> {
    await target.waitFor({ timeout: 10_000 });
    for (let i = 0; i < maxTabs; i++) {
      await page.keyboard.press('Tab');
      if (await target.evaluate((el) => el.ownerDocument.activeElement === el)) return;
    }
    throw new Error(`not reachable with Tab: ${target}`);
  }
  const pressOn = async (page: Page, target: Locator, key = 'Enter') => {
    await tabTo(page, target);
    await page.keyboard.press(key);
  };
  const typeInto = async (page: Page, target: Locator, text: string) => {
    await tabTo(page, target);
    await page.keyboard.type(text);
  };

  /** axe-core at phone and desktop width, then a screenshot at each. */
  async function checkScreen(page: Page, name: string, show?: Locator) {
    for (const [label, size] of [
      ['phone', PHONE],
      ['desktop', DESKTOP],
    ] as const) {
      await page.setViewportSize(size);
      // The same view of each screen: its top, or the part the test is about.
      if (show) await show.scrollIntoViewIfNeeded();
      else await page.evaluate("document.querySelector('main.view')?.scrollTo(0, 0)");
      await page.evaluate(axeSource);
      const violations = (await page.evaluate(
        `axe.run(document).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`,
      )) as { id: string; impact: string; help: string; nodes: string[] }[];
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(serious, `${name} at ${label}: ${JSON.stringify(serious)}`).toEqual([]);
      await screenshot(page, `coordinator-${name}-${label}`);
    }
    await page.setViewportSize(PHONE);
  }

  it('overview: the coordinator creates open, approval and private groups with the keyboard', async () => {
    const { page } = coordinator;
    await open(coordinator, `#/c/${community.id}`);
    await expect.poll(() => page.locator('header h1').textContent()).toBe('Riverside Volunteers');
    await expect.poll(() => page.getByTestId('overview-list').textContent()).toContain('No groups in this community yet.');

    // Open is the default: members can see and join.
    await typeInto(page, page.getByTestId('new-group-name'), 'Cleanup crew');
    await page.keyboard.press('Enter'); // submits the form
    await expect.poll(() => page.getByTestId('overview-group').count()).toBe(1);
    // On approval: arrows move the radio choice.
    await typeInto(page, page.getByTestId('new-group-name'), 'Tree planting');
    await tabTo(page, page.getByTestId('visibility-open').last());
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.getByTestId('visibility-approval').last().isChecked()).toBe(true);
    await pressOn(page, page.getByTestId('add-group'));
    await expect.poll(() => page.getByTestId('overview-group').count()).toBe(2);
    await typeInto(page, page.getByTestId('new-group-name'), 'Board');
    await tabTo(page, page.getByTestId('visibility-open').last());
    await page.keyboard.press('ArrowUp'); // wraps to the last option: private
    await expect.poll(() => page.getByTestId('visibility-private').last().isChecked()).toBe(true);
    await pressOn(page, page.getByTestId('add-group'));
    await expect.poll(() => page.getByTestId('overview-group').count()).toBe(3);

    const row = (name: string) => page.getByTestId('overview-group').filter({ hasText: name });
    await expect.poll(() => row('Cleanup crew').textContent()).toMatch(/Open · 1 member · active/);
    await expect.poll(() => row('Tree planting').textContent()).toMatch(/On approval · 1 member/);
    await expect.poll(() => row('Board').textContent()).toMatch(/Private · 1 member/);
    const overview = await server.http('GET', `/v1/communities/${community.id}/overview`, { token: coordinator.user.token });
    for (const g of overview.body.groups as { id: string; name: string }[]) groupIds[g.name] = g.id;
    expect(Object.keys(groupIds).sort()).toEqual(['Board', 'Cleanup crew', 'Tree planting']);
    await checkScreen(page, 'overview');
  });

  it('role null: a member sees Join and Ask to join (not the private group), joins and asks; the request arrives live', async () => {
    // The coordinator waits on the requests screen.
    await open(coordinator, `#/c/${community.id}/requests`);
    await expect.poll(() => coordinator.page.getByTestId('request-list').textContent()).toContain('Nobody is waiting.');

    const { page } = member;
    await open(member, `#/c/${community.id}`);
    const joinable = page.getByTestId('joinable-row');
    await expect.poll(() => joinable.count(), { timeout: 10_000 }).toBe(2);
    expect(await page.getByTestId('error').textContent()).toBe('');
    expect(await page.getByText('Board').count()).toBe(0);
    await checkScreen(page, 'member-community');

    // An unknown community: a plain error, nothing thrown.
    await open(member, '#/c/c_nonexistent');
    await expect.poll(() => page.getByTestId('error').textContent()).toMatch(/not found/i);
    await open(member, `#/c/${community.id}`);
    await pressOn(page, page.getByRole('button', { name: 'Ask to join Tree planting', exact: true }));
    await expect.poll(() => page.getByTestId('requested').textContent()).toBe('Request sent: an admin will decide.');
    await pressOn(page, page.getByRole('button', { name: 'Join Cleanup crew', exact: true }));
    await expect.poll(() => page.url()).toContain(`#/g/${groupIds['Cleanup crew']}`);

    // Live on the coordinator's screen, without reloading.
    const request = coordinator.page.getByTestId('request-row');
    await expect.poll(() => request.textContent(), { timeout: 10_000 }).toContain('Ben Volunteer');
    expect(await request.textContent()).toContain('to join Tree planting');
    expect(await coordinator.page.getByTestId('live').textContent()).toBe('New request from Ben Volunteer.');
    await expect.poll(() => coordinator.page.getByTestId('count-requests').textContent()).toBe('1');
    await checkScreen(coordinator.page, 'requests');
    await pressOn(coordinator.page, coordinator.page.getByRole('button', { name: 'Approve Ben Volunteer', exact: true }));
    await expect.poll(() => coordinator.page.getByTestId('request-list').textContent()).toContain('Nobody is waiting.');
    await expect.poll(() => coordinator.page.getByTestId('count-requests').count()).toBe(0);
    const members = await server.http('GET', `/v1/groups/${groupIds['Tree planting']}/members`, { token: coordinator.user.token });
    expect((members.body.members as { userId: string }[]).map((m) => m.userId)).toContain(member.user.id);
    expect([...coordinator.errors, ...member.errors]).toEqual([]);
  });

  it('announcements show their reach under them, updated live as the member reads', async () => {
    const { page } = coordinator;
    await open(coordinator, `#/c/${community.id}`);
    await typeInto(page, page.getByTestId('announcement-text'), 'Saturday 9:00 at the old bridge. Bring gloves!');
    await pressOn(page, page.getByTestId('announce'));
    const item = page.getByTestId('announcement-item').first();
    await expect.poll(() => item.locator('.text').textContent()).toBe('Saturday 9:00 at the old bridge. Bring gloves!');
    await expect.poll(() => item.getByTestId('reach-members').textContent(), { timeout: 10_000 }).toBe('of 2 members');

    // The member opens the announcements: read goes to 1 on the coordinator's screen, live.
    await open(member, `#/g/${community.announcementGroupId}`);
    await expect
      .poll(() => member.page.getByTestId('message').locator('.text').allTextContents(), { timeout: 10_000 })
      .toContain('Saturday 9:00 at the old bridge. Bring gloves!');
    await expect.poll(() => item.getByTestId('reach-read').textContent(), { timeout: 15_000 }).toBe('Read 1 (50%)');
    await checkScreen(page, 'announcements', page.getByTestId('announcement-list'));
  });

  it('member directory: search by name, promote, demote and mute in the announcements with the keyboard', async () => {
    const { page } = coordinator;
    await open(coordinator, `#/c/${community.id}/members`);
    await expect.poll(() => page.getByTestId('member-row').count()).toBe(2);
    await typeInto(page, page.getByTestId('member-search'), 'volun');
    await expect.poll(() => page.getByTestId('member-row').allTextContents()).toEqual([expect.stringContaining('Ben Volunteer')]);
    await checkScreen(page, 'members');

    await pressOn(page, page.getByRole('button', { name: 'Promote Ben Volunteer to admin', exact: true }));
    await expect.poll(() => page.getByTestId('member-row').locator('.role').textContent()).toBe('Admin');
    const roleOf = async () =>
      (
        (await server.http('GET', `/v1/communities/${community.id}/members?q=ben`, { token: coordinator.user.token })).body.members as {
          role: string;
        }[]
      )[0]!.role;
    expect(await roleOf()).toBe('admin');
    await pressOn(page, page.getByRole('button', { name: 'Demote Ben Volunteer to member', exact: true }));
    await expect.poll(() => page.getByTestId('member-row').locator('.role').textContent()).toBe('Member');
    expect(await roleOf()).toBe('member');

    // A mute in the announcements: with members allowed to announce, Ben's announcement is refused.
    const settings = (adminsOnlyPost: boolean) =>
      server.http('PATCH', `/v1/communities/${community.id}`, { token: coordinator.user.token, body: { settings: { adminsOnlyPost } } });
    expect((await settings(false)).status).toBe(200);
    const announce = () =>
      server.http('POST', `/v1/communities/${community.id}/announcements`, {
        token: member.user.token,
        body: { clientMsgId: crypto.randomUUID(), text: 'From Ben' },
      });
    await pressOn(page, page.getByRole('button', { name: 'Mute Ben Volunteer in the announcements', exact: true }));
    await expect.poll(() => page.getByTestId('member-row').locator('[role=status]').textContent()).toBe('Muted.');
    const refused = await announce();
    expect(refused.status).toBe(403);
    expect(refused.body.error.details.reason).toBe('muted');
    await pressOn(page, page.getByRole('button', { name: 'Unmute Ben Volunteer in the announcements', exact: true }));
    await expect.poll(() => page.getByTestId('member-row').locator('[role=status]').textContent()).toBe('Unmuted.');
    expect((await announce()).status).toBe(201);
    expect((await settings(true)).status).toBe(200);
    // No match: said so.
    await page.getByTestId('member-search').fill('zzz');
    await expect.poll(() => page.getByTestId('member-list').textContent()).toBe('No members found.');
  });

  it('group administration: add by username (unknown and private answered alike), mute, settings', async () => {
    const { page } = coordinator;
    const groupId = groupIds['Cleanup crew']!;
    await open(coordinator, `#/c/${community.id}`);
    await pressOn(page, page.getByRole('link', { name: 'Manage Cleanup crew', exact: true }));
    await expect.poll(() => page.locator('header h1').textContent()).toBe('Cleanup crew');
    await expect.poll(() => page.getByTestId('group-member').count()).toBe(2);

    // The newcomer shares nothing with the coordinator: invited (to the community's group, as a request or invitation).
    await typeInto(page, page.getByTestId('add-username'), newcomer.user.name.toUpperCase());
    await page.keyboard.press('Enter');
    const result = page.getByTestId('add-result');
    await expect.poll(() => result.textContent()).toContain('they were invited or asked to join');
    const forReal = (await result.textContent())!.replace(newcomer.user.name.toUpperCase(), 'X');
    await typeInto(page, page.getByTestId('add-username'), 'nobody-by-this-name');
    await page.keyboard.press('Enter');
    await expect.poll(() => result.textContent()).toContain('nobody-by-this-name');
    expect((await result.textContent())!.replace('nobody-by-this-name', 'X')).toBe(forReal);

    // An invite link to this group: the newcomer opens it and is in the community and the group.
    await pressOn(page, page.getByRole('button', { name: 'Create a link to this group', exact: true }));
    const link = await page.getByTestId('invite-link').inputValue();
    expect(link).toMatch(new RegExp(`^${server.url}/#/invite/.+`));
    await newcomer.page.goto(link);
    // The link shows what it leads to first; joining is the newcomer's choice.
    await newcomer.page.getByTestId('invite-join').click();
    await expect.poll(() => newcomer.page.locator('header h1').textContent(), { timeout: 10_000 }).toBe('Riverside Volunteers');
    await expect
      .poll(() => newcomer.page.getByTestId('group-row').filter({ hasText: 'Cleanup crew' }).count(), { timeout: 10_000 })
      .toBe(1);
    await open(coordinator, `#/c/${community.id}`);
    await open(coordinator, `#/c/${community.id}/g/${groupId}`);
    await expect.poll(() => page.getByTestId('group-member').count()).toBe(3);

    // Mute the member for an hour: their sends are refused; unmute.
    const ben = page.getByTestId('group-member').filter({ hasText: 'Ben Volunteer' });
    await tabTo(page, ben.getByTestId('mute-for'));
    await page.keyboard.press('ArrowDown'); // 24 hours
    await pressOn(page, ben.getByRole('button', { name: 'Mute Ben Volunteer', exact: true }));
    await expect.poll(() => ben.locator('[role=status]').textContent()).toBe('Muted.');
    const send = () =>
      server.http('POST', `/v1/groups/${groupId}/messages`, {
        token: member.user.token,
        body: { clientMsgId: crypto.randomUUID(), text: 'hello' },
      });
    const refused = await send();
    expect(refused.status).toBe(403);
    expect(refused.body.error.details.reason).toBe('muted');
    expect(Date.parse(refused.body.error.details.until) - Date.now()).toBeGreaterThan(23 * 3600_000);
    await pressOn(page, ben.getByRole('button', { name: 'Unmute Ben Volunteer', exact: true }));
    await expect.poll(() => ben.locator('[role=status]').textContent()).toBe('Unmuted.');
    expect((await send()).status).toBe(201);

    // Settings: on approval, admins only post.
    await tabTo(page, page.getByTestId('visibility-open'));
    await page.keyboard.press('ArrowDown');
    await tabTo(page, page.getByTestId('admins-only'));
    await page.keyboard.press('Space');
    // Disappearing messages: after 7 days (two steps down from Off).
    await tabTo(page, page.getByTestId('message-ttl'));
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await pressOn(page, page.getByTestId('save-group'));
    await expect.poll(() => page.getByText('Saved.').count()).toBe(1);
    const group = await server.http('GET', `/v1/groups/${groupId}`, { token: coordinator.user.token });
    expect(group.body.group.settings).toEqual({ open: false, approvalRequired: true, adminsOnlyPost: true, messageTtlS: 604800 });
    await checkScreen(page, 'group');
  });

  it('reports arrive live and are resolved; remove and ban from the directory, unban from the ban list', async () => {
    const { page } = coordinator;
    await open(coordinator, `#/c/${community.id}/reports`);
    await expect.poll(() => page.getByTestId('report-list').textContent()).toContain('No open reports.');
    // Ben posts in Tree planting; another member there reports it (a sender never sees reports of their own messages).
    const groupId = groupIds['Tree planting']!;
    const dev = await server.signUp();
    expect((await server.http('PATCH', '/v1/me', { token: dev.token, body: { name: 'Dev Reporter' } })).status).toBe(200);
    const devInvite = await server.http('POST', `/v1/communities/${community.id}/invites`, { token: coordinator.user.token, body: {} });
    expect((await server.http('POST', `/v1/invites/${devInvite.body.code}/join`, { token: dev.token })).status).toBe(200);
    expect((await server.http('POST', `/v1/communities/${community.id}/groups/${groupId}/join`, { token: dev.token })).status).toBe(202);
    expect(
      (
        await server.http('POST', `/v1/communities/${community.id}/requests/${dev.id}/approve`, {
          token: coordinator.user.token,
          body: { groupId },
        })
      ).status,
    ).toBe(200);
    const posted = await server.http('POST', `/v1/groups/${groupId}/messages`, {
      token: member.user.token,
      body: { clientMsgId: 'r1', text: 'Buy cheap watches here!!!' },
    });
    const reported = await server.http('POST', `/v1/groups/${groupId}/messages/${posted.body.seq}/report`, {
      token: dev.token,
      body: { reason: 'spam', note: 'Not about trees' },
    });
    expect(reported.status).toBe(202);
    const row = page.getByTestId('report-row');
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('Buy cheap watches here!!!');
    expect(await row.textContent()).toContain('Ben Volunteer · reported by Dev Reporter for “spam”');
    await expect.poll(() => page.getByTestId('count-reports').textContent()).toBe('1');
    await checkScreen(page, 'reports');
    await pressOn(page, row.getByTestId('resolve-delete'));
    await expect.poll(() => page.getByTestId('report-list').textContent()).toContain('No open reports.');
    await expect.poll(() => page.getByTestId('count-reports').count()).toBe(0);
    const history = await server.http('GET', `/v1/groups/${groupId}/messages`, { token: coordinator.user.token });
    expect(history.body.messages.find((m: { seq: number }) => m.seq === posted.body.seq).deleted).toBe(true);

    // The newcomer joins by an invite, is banned from the directory (two presses), then unbanned.
    const invite = await server.http('POST', `/v1/communities/${community.id}/invites`, { token: coordinator.user.token, body: {} });
    expect((await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: newcomer.user.token })).status).toBe(200);
    await open(coordinator, `#/c/${community.id}/members`);
    const chitra = page.getByTestId('member-row').filter({ hasText: 'Chitra Newcomer' });
    await expect.poll(() => chitra.count()).toBe(1);
    await pressOn(page, chitra.getByTestId('ban'));
    await expect.poll(() => chitra.getByTestId('ban').textContent()).toBe('Ban Chitra Newcomer? Press again');
    await page.keyboard.press('Enter');
    await expect.poll(() => chitra.count()).toBe(0);
    const bans = await server.http('GET', `/v1/communities/${community.id}/bans`, { token: coordinator.user.token });
    expect((bans.body.bans as { userId: string }[]).map((b) => b.userId)).toEqual([newcomer.user.id]);

    await open(coordinator, `#/c/${community.id}/reports`);
    await pressOn(page, page.getByRole('button', { name: 'Unban Chitra Newcomer', exact: true }));
    await expect.poll(() => page.getByTestId('ban-list').textContent()).toContain('Nobody is banned.');

    // Removing asks twice too; Escape cancels the first press.
    const again = await server.http('POST', `/v1/invites/${invite.body.code}/join`, { token: newcomer.user.token });
    expect(again.status).toBe(200);
    await open(coordinator, `#/c/${community.id}/members`);
    await pressOn(page, chitra.getByTestId('remove'));
    await page.keyboard.press('Escape');
    await expect.poll(() => chitra.getByTestId('remove').textContent()).toBe('Remove');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await expect.poll(() => chitra.count()).toBe(0);
    const left = await server.http('GET', `/v1/communities/${community.id}/members?q=chitra`, { token: coordinator.user.token });
    expect(left.body.members).toEqual([]);
  });

  it('settings: approval to join and who announces, saved; an invite link to copy', async () => {
    const { page } = coordinator;
    await open(coordinator, `#/c/${community.id}/settings`);
    await expect.poll(() => page.getByTestId('community-name').inputValue()).toBe('Riverside Volunteers');
    await tabTo(page, page.getByTestId('approval'));
    await page.keyboard.press('Space');
    await pressOn(page, page.getByTestId('save-community'));
    await expect.poll(() => page.getByText('Saved.').count()).toBe(1);
    const detail = await server.http('GET', `/v1/communities/${community.id}`, { token: coordinator.user.token });
    expect(detail.body.community.settings).toMatchObject({ approvalRequired: true, adminsOnlyPost: true });
    await pressOn(page, page.getByRole('button', { name: 'Create invite link', exact: true }));
    await expect.poll(() => page.getByTestId('invite-link').inputValue()).toMatch(new RegExp(`^${server.url}/#/invite/.+`));
    await checkScreen(page, 'settings');
  });

  it('in Hindi: the overview and the directory', async () => {
    const { page } = coordinator;
    await page.evaluate("localStorage.setItem('banyan.lang', 'hi')");
    await open(coordinator, `#/c/${community.id}`);
    await page.reload();
    await expect.poll(() => page.locator('#groups-title').textContent()).toBe('समूह');
    await expect.poll(() => page.getByTestId('nav-members').textContent()).toBe('सदस्य');
    await screenshot(page, 'coordinator-overview-hi-phone');
    await open(coordinator, `#/c/${community.id}/members`);
    await expect.poll(() => page.getByText('नाम से खोजें').count()).toBe(1);
    await expect.poll(() => page.getByTestId('member-row').count()).toBeGreaterThan(0);
    await screenshot(page, 'coordinator-members-hi-phone');
    await page.evaluate("localStorage.removeItem('banyan.lang')");
    expect([...coordinator.errors, ...member.errors, ...newcomer.errors]).toEqual([]);
  });
});
