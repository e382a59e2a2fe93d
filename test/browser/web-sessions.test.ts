import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, serverAndBrowser, signUpInBrowser } from '../helpers/browser.js';
import { checkScreen, SMALL_PHONE } from '../helpers/web.js';

// Where the member is signed in (docs/protocol.md §2 "Sessions and refresh tokens"), in the web
// client: sign-ins ask for a refresh token and name the device; the account screen lists the
// sessions, marks this one, and ends another, whose page is signed out at once.

describe.skipIf(!hasChromium)('web client: sessions', { timeout: 120_000 }, () => {
  const env = serverAndBrowser();

  const newPage = async () => {
    const context = await env.browser.newContext({ viewport: SMALL_PHONE, locale: 'en-US', serviceWorkers: 'block' });
    const page = await context.newPage();
    return { page, errors: collectPageErrors(page) };
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const stored = async (page: Page): Promise<any> =>
    JSON.parse((await page.evaluate<string | null>("localStorage.getItem('banyan.session')")) ?? 'null');

  it('lists this browser and another, ends the other (signed out there at once); axe finds nothing serious', async () => {
    const { server } = env;
    const first = await newPage();
    const username = await signUpInBrowser(first.page, server.url, 'Asha');
    await first.page.getByTestId('account-link').or(first.page.locator('header')).first().waitFor();
    await expect.poll(async () => (await stored(first.page))?.refreshToken, { timeout: 20_000 }).toMatch(/^s_.+\.0\..+/);

    const second = await newPage();
    await second.page.goto(server.url);
    await second.page.getByLabel('Username').fill(username);
    await second.page.getByLabel('Password').fill('password-123');
    await second.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(async () => (await stored(second.page))?.refreshToken, { timeout: 20_000 }).toMatch(/^s_/);
    const secondId = String((await stored(second.page)).refreshToken).split('.')[0];

    await first.page.goto(`${server.url}/#/account`);
    const rows = first.page.getByTestId('session');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(2);
    const texts = await rows.allTextContents();
    expect(texts.every((t) => /Chrome on Linux/.test(t))).toBe(true);
    expect(texts.filter((t) => t.includes('This device'))).toHaveLength(1);
    expect(await first.page.locator('[data-current="true"]').count()).toBe(1);
    expect(await checkScreen(first.page, 'account-sessions')).toEqual([]);

    await first.page.locator(`[data-session="${secondId}"]`).getByTestId('end-session').click();
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(1);
    // The other browser's socket was closed 4403: it is back at the sign-in form, told why.
    await second.page.getByText('Your session ended. Sign in again.').waitFor({ timeout: 20_000 });
    expect(await stored(second.page)).toBeNull();
    // The first one goes on.
    expect((await server.http('GET', '/v1/sessions', { token: (await stored(first.page)).token })).body.sessions).toHaveLength(1);

    // Sign out everywhere: this browser too.
    await first.page.getByTestId('sign-out-everywhere').click();
    await first.page.getByLabel('Username').waitFor({ timeout: 20_000 });
    expect(await stored(first.page)).toBeNull();
    expect([...first.errors, ...second.errors]).toEqual([]);
  });
});
