import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, hasChromium, launchChromium, PHONE, screenshot } from '../helpers/browser.js';
import { createGroup, startServer, type TestServer, type TestUser } from '../helpers/server.js';

// Files and search in the web client (docs/protocol.md §8 "Files (attachments)"), in a real browser on a phone-sized screen.

/** Chromium's test microphone (a beep), granted without asking: voice notes can be recorded. */
const FAKE_MICROPHONE = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const MAX_UPLOAD = 1024 * 1024;

describe.skipIf(!hasChromium)('web client: files and search', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServer({ env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } }),
      launchChromium(FAKE_MICROPHONE),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A browser signed in as `user`, opened at `hash`. */
  const signedIn = async (user: TestUser, hash = '') => {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}/${hash}`);
    await page.getByLabel('Username').fill(user.name);
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    return { page, errors };
  };
  /** An <img>'s natural width once loaded from a blob URL (0 before). */
  const loadedSize = (img: ReturnType<Page['getByTestId']>) =>
    img.evaluate((el) => {
      const image = el as unknown as { complete: boolean; src: string; naturalWidth: number };
      return image.complete && image.src.startsWith('blob:') ? image.naturalWidth : 0;
    });

  it('refused uploads say why; a photo, a PDF and a voice note sent by one member show for the other (thumbnail over blurhash, full image, download link, audio player)', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben], 'Clean-up');
    const photo = await sharp({
      create: { width: 600, height: 400, channels: 3, background: '#2a7' },
    })
      .composite([{ input: { create: { width: 300, height: 400, channels: 3, background: '#e83' } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
    const a = await signedIn(asha, `#/g/${group}`);
    const b = await signedIn(ben, `#/g/${group}`);

    // A file that is not what it says is refused with a clear message.
    await a.page
      .getByTestId('attach-input')
      .setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
    await expect
      .poll(() => a.page.getByTestId('error').textContent(), { timeout: 10_000 })
      .toBe('“fake.png” is not what its type says (image/png): it cannot be sent.');
    expect(await a.page.getByTestId('staged-file').count()).toBe(0);
    // So is a file over the server's MAX_UPLOAD_BYTES, saying what the limit is.
    await a.page
      .getByTestId('attach-input')
      .setInputFiles({ name: 'video.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MAX_UPLOAD + 1, 7) });
    await expect
      .poll(() => a.page.getByTestId('error').textContent(), { timeout: 10_000 })
      .toBe('“video.bin” is too large (1.0 MB): the limit is 1.0 MB.');

    await a.page.getByTestId('attach-input').setInputFiles({ name: 'river.png', mimeType: 'image/png', buffer: photo });
    await expect.poll(() => a.page.getByTestId('uploaded').count(), { timeout: 10_000 }).toBe(1);
    expect(await a.page.getByTestId('error').textContent()).toBe('');
    await a.page.getByTestId('composer').fill('The river bank after the clean-up');
    await a.page.getByTestId('composer').press('Enter');

    const bMessage = b.page.getByTestId('message').filter({ hasText: 'The river bank after the clean-up' });
    await expect.poll(() => bMessage.count(), { timeout: 10_000 }).toBe(1);
    expect(await bMessage.locator('canvas.blur').count()).toBe(1); // the blurhash placeholder
    const thumbnail = bMessage.getByTestId('attachment-thumbnail');
    await expect.poll(() => loadedSize(thumbnail), { timeout: 10_000 }).toBe(320); // the server's thumbnail
    await screenshot(b.page, 'files-image-received');
    await thumbnail.click();
    await expect.poll(() => loadedSize(b.page.getByTestId('attachment-full')), { timeout: 10_000 }).toBe(600);
    await screenshot(b.page, 'files-image-full');
    await b.page.getByRole('button', { name: 'Close' }).click();
    expect(await b.page.getByTestId('attachment-full').count()).toBe(0);

    // A file alone (no text) is a message too; a PDF shows as a download link with its size.
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
    await a.page.getByTestId('attach-input').setInputFiles({ name: 'permission-slip.pdf', mimeType: 'application/pdf', buffer: pdf });
    await expect.poll(() => a.page.getByTestId('uploaded').count(), { timeout: 10_000 }).toBe(1);
    await a.page.getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(() => b.page.getByTestId('attachment-file').textContent(), { timeout: 10_000 })
      .toBe(`📄permission-slip.pdf${pdf.length} B`);

    // A voice note recorded from the microphone arrives as an audio player.
    await a.page.getByTestId('record').click();
    await expect.poll(() => a.page.getByTestId('record').getAttribute('aria-label')).toBe('Stop recording');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await a.page.getByTestId('record').click();
    await expect.poll(() => a.page.getByTestId('uploaded').count(), { timeout: 10_000 }).toBe(1);
    expect(await a.page.getByTestId('staged-file').textContent()).toMatch(/^voice-note-.+\.webm · \d+ KB/);
    await a.page.getByRole('button', { name: 'Send' }).click();
    const player = b.page.getByTestId('attachment-audio').locator('audio');
    await expect.poll(() => player.getAttribute('src'), { timeout: 10_000 }).toMatch(/^blob:/);
    await expect
      .poll(() => player.evaluate((el) => (el as unknown as { duration: number }).duration), { timeout: 10_000 })
      .toBeGreaterThan(0);
    await screenshot(b.page, 'files-voice-note');
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('search from the home screen finds an old message; the result opens the conversation at it', async () => {
    const [asha, ben] = [await server.signUp(), await server.signUp()];
    const group = await createGroup(server, asha, [ben], 'Garden');
    const post = (clientMsgId: string, text: string) =>
      server.http('POST', `/v1/groups/${group}/messages`, { token: asha.token, body: { clientMsgId, text } });
    expect((await post('s0', 'The seed swap is on Sunday at the library')).status).toBe(201);
    for (let i = 0; i < 70; i++) expect((await post(`f${i}`, `filler ${i}`)).status).toBe(201);

    const { page, errors } = await signedIn(ben);
    await expect.poll(() => page.getByTestId('my-name').textContent()).toBe(ben.name);
    await page.getByTestId('search-input').fill('seed swap');
    await page.getByTestId('search-input').press('Enter');
    const result = page.getByTestId('search-result');
    await expect.poll(() => result.count(), { timeout: 10_000 }).toBe(1);
    expect(await result.locator('.group').textContent()).toBe('Garden');
    expect(await result.locator('.sender').textContent()).toBe(asha.name);
    expect(await result.locator('.snippet').textContent()).toContain('seed swap');
    await screenshot(page, 'search-home');

    // The message is older than the first page of history: the conversation loads back to it.
    await result.click();
    const found = page.locator('.message.highlight');
    await expect.poll(() => found.locator('.text').textContent(), { timeout: 10_000 }).toBe('The seed swap is on Sunday at the library');
    await expect.poll(() => found.isVisible()).toBe(true);
    const inView = () =>
      found.evaluate((el) => {
        const box = el.getBoundingClientRect();
        const list = el.closest('.messages')!.getBoundingClientRect();
        return box.top >= list.top && box.bottom <= list.bottom;
      });
    await expect.poll(inView).toBe(true);
    await screenshot(page, 'search-opened-at-message');

    // Inside the conversation, the search is of this group only.
    await page.getByTestId('search-toggle').click();
    await page.getByTestId('search-input').fill('filler 42');
    await page.getByTestId('search-input').press('Enter');
    await expect.poll(() => result.locator('.snippet').allTextContents(), { timeout: 10_000 }).toEqual(['filler 42']);
    expect(await result.locator('.group').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
