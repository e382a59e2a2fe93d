import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOTS } from './browser.js';
import type { TestServer, TestUser } from './server.js';

// The member's web client in tests: the screen sizes it must work at, axe-core on each screen,
// and screenshots at both sizes.

/** A small Android phone, the narrowest screen the client supports. */
export const SMALL_PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2 A and AA rules). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through DevTools, which the page's Content-Security-Policy does not restrict.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeResult[] }> } }).axe;
    type AxeResult = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/** Screenshots of the screen at phone width (360×740) and desktop width, back to the phone after. */
export async function shootBoth(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.setViewportSize(SMALL_PHONE);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-phone.png`) });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-desktop.png`) });
  await page.setViewportSize(SMALL_PHONE);
}

/** One screen checked: no serious or critical axe violations, and both screenshots. */
export async function checkScreen(page: Page, name: string): Promise<AxeViolation[]> {
  const violations = await seriousViolations(page);
  await shootBoth(page, name);
  return violations;
}

/** A page signed in as `user` (session put where the web client keeps it), at phone size. */
export async function signedInPage(
  browser: Browser,
  server: TestServer,
  user: TestUser,
  locale = 'en-US',
  serviceWorkers: 'allow' | 'block' = 'block',
  timezoneId?: string,
): Promise<Page> {
  const context = await browser.newContext({
    viewport: SMALL_PHONE,
    deviceScaleFactor: 2,
    locale,
    serviceWorkers,
    ...(timezoneId ? { timezoneId } : {}),
  });
  const session = {
    token: user.token,
    user: { id: user.id, name: user.name },
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  };
  await context.addInitScript((s) => {
    const storage = (globalThis as unknown as { localStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void } })
      .localStorage;
    if (!storage.getItem('banyan.session')) storage.setItem('banyan.session', s);
  }, JSON.stringify(session));
  const page = await context.newPage();
  await page.goto(server.url);
  return page;
}
