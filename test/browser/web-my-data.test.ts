import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, serverAndBrowser } from '../helpers/browser.js';
import { checkScreen, signedInPage } from '../helpers/web.js';

// The account screen's "Your data" section (docs/protocol.md §2 "Your data: export and erasure"):
// a member downloads their data, then deletes their account by typing the phrase, and is signed out.

describe.skipIf(!hasChromium)('web client: a member’s own data', { timeout: 120_000 }, () => {
  const both = serverAndBrowser();

  it('downloads the data once, then deletes the account and signs out', async () => {
    const { server, browser } = both;
    const asha = await server.signUp();
    const page = await signedInPage(browser, server, asha);
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}/#/account`);
    await page.getByRole('button', { name: 'Download my data' }).click();
    const download = page.getByRole('button', { name: 'Download (zip)' });
    await download.waitFor({ timeout: 60_000 });
    expect(await checkScreen(page, 'account-my-data')).toEqual([]);
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    expect(file.suggestedFilename()).toBe('banyan-my-data.zip');
    await expect.poll(() => page.getByTestId('export-status').textContent()).toContain('You downloaded your data');

    await page.getByTestId('erase-open').click();
    const confirm = page.getByRole('button', { name: 'Delete my account for ever' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByTestId('erase-phrase').fill('delete my account');
    await page.getByTestId('erase-password').fill('password-123');
    expect(await checkScreen(page, 'account-delete-dialog')).toEqual([]);
    await confirm.click();
    // Signed out: the sign-in screen, and the old token no longer works.
    await page
      .getByRole('button', { name: /sign in/i })
      .first()
      .waitFor({ timeout: 30_000 });
    expect((await server.http('GET', '/v1/me', { token: asha.token })).status).toBe(401);
    expect(errors).toEqual([]);
  });
});
