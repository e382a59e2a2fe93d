import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, PHONE, serverAndBrowser } from '../helpers/browser.js';
import { checkScreen } from '../helpers/web.js';
import { uniqueName } from '../helpers/server.js';

// Issue 29, item 4 in the web client: recovery codes shown once at sign-up, "Forgot password?"
// with one of them, the account section that makes new ones, and an operator's sign-in link.

describe.skipIf(!hasChromium)('web client: recovery codes and sign-in links', { timeout: 120_000 }, () => {
  const live = serverAndBrowser();
  const newPage = async () => {
    const context = await live.browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    return { page, errors: collectPageErrors(page) };
  };

  it('shows the codes once at sign-up; one of them sets a new password; the account screen makes new ones', async () => {
    const { page, errors } = await newPage();
    const username = uniqueName('asha');
    await page.goto(live.server.url);
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    // allTextContents() does not wait: the list shows once the sign-up's answer is in.
    await page.getByTestId('recovery-codes').locator('li code').first().waitFor({ timeout: 30_000 });
    const codes = await page.getByTestId('recovery-codes').locator('li code').allTextContents();
    expect(codes).toHaveLength(10);
    expect(await checkScreen(page, 'recovery-codes-at-sign-up')).toEqual([]);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await expect.poll(() => page.getByTestId('recovery-codes').count()).toBe(0);

    // Forgot the password, on another device: a code sets a new one and signs in.
    const other = await newPage();
    await other.page.goto(live.server.url);
    await other.page.getByRole('button', { name: 'Forgot password?' }).click();
    await other.page.getByLabel('Username').fill(username);
    await other.page.getByLabel('Recovery code').fill(codes[0]!);
    await other.page.getByLabel('New password').fill('new-password-456');
    expect(await checkScreen(other.page, 'recovery-forgot-password')).toEqual([]);
    await other.page.getByRole('button', { name: 'Set the new password and sign in' }).click();
    // Signed in once the form gives way (a slow machine must not navigate away from the request).
    await expect
      .poll(() => other.page.getByRole('button', { name: 'Set the new password and sign in' }).count(), { timeout: 30_000 })
      .toBe(0);
    await other.page.goto(`${live.server.url}/#/account`);
    await expect.poll(() => other.page.getByTestId('recovery-left').textContent()).toBe('9 code(s) left.');
    // The first device's session ended with the recovery: it is back at the sign-in form.
    await expect.poll(() => page.getByRole('button', { name: 'Forgot password?' }).count(), { timeout: 30_000 }).toBe(1);

    // New codes, for the new password; shown once.
    await other.page.getByLabel('Your password', { exact: true }).fill('new-password-456');
    await other.page.getByRole('button', { name: 'Make new codes' }).click();
    await other.page.getByTestId('recovery-codes').locator('li code').first().waitFor({ timeout: 30_000 });
    const fresh = await other.page.getByTestId('recovery-codes').locator('li code').allTextContents();
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(codes[1]);
    await other.page.getByRole('button', { name: 'I have saved them' }).click();
    await expect.poll(() => other.page.getByTestId('recovery-left').textContent()).toBe('10 code(s) left.');
    expect(await checkScreen(other.page, 'account-recovery')).toEqual([]);
    expect([...errors, ...other.errors]).toEqual([]);
  });

  it('an operator’s link signs a new member in once and invites them to add a way in', async () => {
    const operator = await live.server.token('ngo-coordinator', { scope: 'server' });
    const username = uniqueName('kamala');
    expect((await live.server.http('POST', '/v1/accounts', { token: operator, body: { username, name: 'Kamala Devi' } })).status).toBe(201);
    const link = await live.server.http('POST', '/v1/sign-in-links', { token: operator, body: { username } });
    const { page, errors } = await newPage();
    await page.goto(`${live.server.url}${link.body.url}`);
    await expect.poll(() => page.getByTestId('link-welcome').textContent()).toContain('Welcome, Kamala Devi!');
    expect(await checkScreen(page, 'sign-in-link-welcome')).toEqual([]);
    await page.getByRole('button', { name: 'Add a passkey or password' }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe('#/account');
    await expect.poll(() => page.getByTestId('account-recovery').count()).toBe(1);

    // Used: opened again elsewhere, it says so.
    const again = await newPage();
    await again.page.goto(`${live.server.url}${link.body.url}`);
    await expect.poll(() => again.page.getByTestId('error').textContent()).toContain('does not work');
    expect(errors).toEqual([]);
  });
});
