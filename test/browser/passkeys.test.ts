import type { CDPSession, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, PHONE, serverAndBrowser } from '../helpers/browser.js';
import { uniqueName } from '../helpers/server.js';
import { checkScreen } from '../helpers/web.js';

// Passkeys in the web client (docs/protocol.md §2 "Passkeys"), in real Chromium with the DevTools
// Protocol's virtual authenticator standing in for a phone's screen lock: sign up with a passkey
// (no password), sign out, sign back in with it, add a second passkey, remove one.

/** A platform authenticator with resident keys and user verification, as a phone has. */
async function virtualAuthenticator(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

describe.skipIf(!hasChromium)('web client: passkeys', { timeout: 180_000 }, () => {
  const both = serverAndBrowser();

  it('signs up with a passkey, signs out, signs back in with it, adds a second passkey and removes one', async () => {
    const { server, browser } = both;
    // WebAuthn needs a domain (the RP ID, `localhost` by default), never an IP address.
    const url = `http://localhost:${server.app.port}`;
    const context = await browser.newContext({ viewport: PHONE, locale: 'en-US', serviceWorkers: 'block' });
    const page: Page = await context.newPage();
    const errors = collectPageErrors(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const phone = await virtualAuthenticator(cdp);

    const username = uniqueName('kamala');
    await page.goto(url);
    await expect.poll(() => page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Display name (optional)').fill('Kamala');
    expect(await checkScreen(page, 'passkeys-sign-up')).toEqual([]);
    await page.getByRole('button', { name: 'Create account with a passkey' }).click();
    await page.getByTestId('my-name').waitFor();
    expect(await page.getByTestId('my-name').textContent()).toBe('Kamala');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: phone });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    // Signed out, then back in with no username and no password.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByTestId('my-name').waitFor();
    expect(await page.getByTestId('my-name').textContent()).toBe('Kamala');

    // The account screen lists it; a second passkey on another authenticator (a tablet).
    await page.goto(`${url}/#/account`);
    const rows = page.getByTestId('passkey');
    await expect.poll(() => rows.count()).toBe(1);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: phone });
    const tablet = await virtualAuthenticator(cdp);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    expect(await page.getByTestId('passkeys-status').textContent()).toBe('Passkey added.');

    // Rename the second, then remove the first (the phone's): the tablet's is left.
    await page.getByRole('button', { name: 'Rename Passkey 2' }).click();
    await page.getByRole('textbox', { name: 'New name for Passkey 2' }).fill('Tablet');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => rows.nth(1).locator('.passkey-name').textContent()).toBe('Tablet');
    expect(await checkScreen(page, 'passkeys-account')).toEqual([]);
    const remove = page.getByRole('button', { name: 'Remove Passkey 1' });
    await remove.click();
    await page.getByRole('button', { name: /Remove the passkey “Passkey 1”/ }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator('.passkey-name').textContent()).toBe('Tablet');

    // The last passkey of an account without a password stays: the server says why.
    await page.getByRole('button', { name: 'Remove Tablet' }).click();
    await page.getByRole('button', { name: /Remove the passkey “Tablet”/ }).click();
    await expect.poll(() => page.getByTestId('passkeys-error').textContent()).toMatch(/last way to sign in/);
    expect(await rows.count()).toBe(1);

    // The tablet signs in too.
    await page.goto(url);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByTestId('my-name').waitFor();
    expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId: tablet })).credentials[0]!.signCount).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
