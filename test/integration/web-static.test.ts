import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

// The gateway serves the built web client (dist/web, built by the global setup) at `/`.

describe('web client files', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves index.html at / revalidated on every load, pointing at hashed assets cached for good', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await index.text();
    const js = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const css = /href="(\/assets\/main-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    expect(css).toBeDefined();
    for (const [path, type] of [
      [js!, 'text/javascript; charset=utf-8'],
      [css!, 'text/css; charset=utf-8'],
    ] as const) {
      const asset = await fetch(server.url + path);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toBe(type);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
  });

  it('answers 404 for unknown assets and keeps the API error shape for unknown API paths', async () => {
    const missing = await fetch(`${server.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    const api = await server.http('GET', '/v1/nothing-here');
    expect(api).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no such endpoint' } } });
  });
});
