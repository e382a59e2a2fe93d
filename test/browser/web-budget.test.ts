import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { hasChromium, serverAndBrowser } from '../helpers/browser.js';
import { SMALL_PHONE, signedInPage } from '../helpers/web.js';

// The web client's budgets (issue 15): at most 60 KB of gzipped JavaScript for the first screen,
// and the first usable screen within 3 s on a "slow 3G" line (400 kbit/s, 400 ms latency).

const dist = join(process.cwd(), 'dist/web');
const BUDGET_GZIP = 60 * 1024;
const SLOW_3G = { offline: false, latency: 400, downloadThroughput: (400 * 1024) / 8, uploadThroughput: (400 * 1024) / 8 };

/** The scripts the page loads before anything shows: those index.html names (module and preloads). */
function firstScreenScripts(): string[] {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  return [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="([^"]+\.js)"/g)].map((m) => m[1]!);
}

describe('web client budgets', () => {
  it('keeps the first screen within 60 KB of gzipped JavaScript, without zod', () => {
    const scripts = firstScreenScripts();
    expect(scripts.length).toBeGreaterThan(0);
    let total = 0;
    for (const src of scripts) {
      const body = readFileSync(join(dist, src));
      total += gzipSync(body, { level: 9 }).length;
      // zod's error messages and its toJSONSchema code would show these strings.
      expect(body.toString('utf8')).not.toContain('Invalid input: expected');
    }
    console.log(`[web budget] first-screen JS: ${(total / 1024).toFixed(1)} KB gzipped (${scripts.length} file(s))`);
    expect(total).toBeLessThanOrEqual(BUDGET_GZIP);
  });

  describe.skipIf(!hasChromium)('on slow 3G in Chromium', { timeout: 60_000 }, () => {
    const live = serverAndBrowser();

    it('serves the app gzipped', async () => {
      const script = firstScreenScripts()[0]!;
      const res = await fetch(new URL(script, live.server.url), { headers: { 'accept-encoding': 'gzip' } });
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.headers.get('vary')).toBe('accept-encoding');
    });

    it('shows the sign-in screen within 3 s, and a signed-in member their lists within 3 s', async () => {
      const context = await live.browser.newContext({ viewport: SMALL_PHONE, serviceWorkers: 'block' });
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.emulateNetworkConditions', SLOW_3G);
      let started = Date.now();
      await page.goto(live.server.url, { waitUntil: 'commit' });
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      const signIn = Date.now() - started;
      await context.close();

      const member = await live.server.signUp();
      await live.server.http('POST', '/v1/groups', { token: member.token, body: { name: 'Garden' } });
      const signedIn = await signedInPage(live.browser, live.server, member);
      const cdp2 = await signedIn.context().newCDPSession(signedIn);
      await cdp2.send('Network.enable');
      await cdp2.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp2.send('Network.emulateNetworkConditions', SLOW_3G);
      started = Date.now();
      await signedIn.reload({ waitUntil: 'commit' });
      await signedIn.getByTestId('group-row').filter({ hasText: 'Garden' }).waitFor();
      const lists = Date.now() - started;
      await signedIn.context().close();
      console.log(`[web budget] slow 3G: sign-in screen ${signIn} ms, signed-in lists ${lists} ms`);
      expect(signIn).toBeLessThanOrEqual(3000);
      expect(lists).toBeLessThanOrEqual(3000);
    });
  });
});
