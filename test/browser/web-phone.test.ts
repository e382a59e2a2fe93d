import { randomBytes, randomInt } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, launchChromium } from '../helpers/browser.js';
import { waitUntil } from '../helpers/replicas.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { checkScreen, SMALL_PHONE } from '../helpers/web.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

// Phone sign-in in the web client (docs/protocol.md §2 "Phone numbers and one-time codes"): the
// code is read from a real webhook receiver, as the operator's SMS gateway would get it.

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe.skipIf(!hasChromium)('web client: phone sign-in', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    receiver.expect('/otp', SECRET);
    [server, browser] = await Promise.all([
      startServer({ env: { OTP_SENDER: 'webhook', OTP_WEBHOOK_URL: `${receiver.url}/otp`, OTP_WEBHOOK_SECRET: SECRET } }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await receiver?.stop();
  });

  const codeFor = async (phone: string, after: number) => {
    let code = '';
    await waitUntil(
      () => {
        const got = receiver
          .at('/otp')
          .slice(after)
          .find((m) => (m.body.data as { phone: string }).phone === phone);
        if (got?.verified) code = (got.body.data as { code: string }).code;
        return code !== '';
      },
      15_000,
      'the code',
    );
    return code;
  };

  it('a new number: number, code, then a name; the account screen shows the number to its member', async () => {
    const context = await browser.newContext({ viewport: SMALL_PHONE, deviceScaleFactor: 2, locale: 'en-US', serviceWorkers: 'block' });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    const local = `9${String(randomInt(100_000_000, 999_999_999))}`;
    const phone = `+91${local}`;
    await page.goto(server.url);
    await page.getByTestId('phone-sign-in').click();
    await page.getByLabel('Phone number').fill(local);
    expect(await checkScreen(page, 'phone-number')).toEqual([]);
    const before = receiver.at('/otp').length;
    await page.getByRole('button', { name: 'Send code' }).click();
    const code = await codeFor(phone, before);
    await page.getByLabel('Code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // A new number: asked for a name, the code kept.
    await page.getByLabel('Your name').fill('Savitri');
    expect(await checkScreen(page, 'phone-name')).toEqual([]);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByTestId('my-name').waitFor();

    await page.goto(`${server.url}/#/account`);
    await expect.poll(() => page.getByTestId('account-phone-current').textContent(), { timeout: 10_000 }).toContain(phone);
    expect(await checkScreen(page, 'account-phone')).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
