import { describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, screenshot, serverAndBrowser } from '../helpers/browser.js';

// The API reference page (docs/protocol.md §8 "API reference") renders in a real browser under
// its own Content-Security-Policy, every file from this server.

describe.skipIf(!hasChromium)('API reference page', { timeout: 120_000 }, () => {
  const live = serverAndBrowser();

  it('shows every operation and a request body schema, with nothing the policy refuses and nothing from elsewhere', async () => {
    const page = await live.browser.newPage();
    const errors = collectPageErrors(page);
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(live.server.url) && !request.url().startsWith('data:')) elsewhere.push(request.url());
    });
    // The browser's own record of what the policy refused (besides its console lines).
    await page.addInitScript(() => {
      const w = globalThis as unknown as {
        refused: string[];
        addEventListener: (type: string, f: (e: { violatedDirective: string }) => void) => void;
      };
      w.refused = [];
      w.addEventListener('securitypolicyviolation', (e) => w.refused.push(e.violatedDirective));
    });
    await page.goto(`${live.server.url}/docs/api`);
    const operations = page.locator('.opblock');
    await expect.poll(() => operations.count(), { timeout: 60_000 }).toBe(live.server.app.gateway.routes.length);
    // Opening one shows its parameters and body schema (rendered with the syntax highlighter's styles).
    await page.locator('.opblock-summary', { hasText: '/v1/groups/{id}/messages' }).filter({ hasText: 'POST' }).first().click();
    await expect.poll(() => page.getByText('clientMsgId').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await screenshot(page, 'api-docs');
    expect(errors).toEqual([]);
    expect(refused).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as { refused: string[] }).refused)).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});
