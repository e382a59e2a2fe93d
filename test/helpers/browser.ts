import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startServer, type TestServer, uniqueName } from './server.js';

// Debian's chromium driven by playwright-core (no browser download). .ci/run installs it.

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');
/** A phone-sized screen: the web client must be usable there. */
export const PHONE = { width: 390, height: 844 };

/** `extraArgs`: e.g. Chromium's fake microphone (`--use-fake-device-for-media-stream`). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Opens `url` signed out and signs up through the web client's form (past its recovery codes); returns the username. */
export async function signUpInBrowser(page: Page, url: string, displayName: string): Promise<string> {
  const username = uniqueName(displayName.toLowerCase());
  await page.goto(url);
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('password-123');
  await page.getByLabel('Display name (optional)').fill(displayName);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  // The recovery codes, shown once after a sign-up with a password (docs/protocol.md §2).
  await page.getByRole('button', { name: 'I have saved them' }).click();
  return username;
}

/** Reports the first page error (an exception in the app) instead of letting it pass silently. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/**
 * A real server and Chromium for the enclosing `describe`, started together before its tests and
 * stopped after them; read `server` and `browser` inside the tests.
 */
export function serverAndBrowser(): { readonly server: TestServer; readonly browser: Browser } {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('the server is not started yet (read it inside a test)');
      return server;
    },
    get browser() {
      if (!browser) throw new Error('the browser is not started yet (read it inside a test)');
      return browser;
    },
  };
}
