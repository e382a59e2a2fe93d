import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../../platform/obs/logger.js';

// The web client: the files `npm run build` writes to dist/web, served at `/` from memory.
// Assets have content hashes in their names, so they are cached for good; index.html is
// revalidated on every load, so a new build reaches browsers on their next visit. Text files
// have a gzipped copy from the build (name.gz), sent to browsers that accept gzip.

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
};
/** A gzipped copy has the type of what it holds. */
const typeOf = (name: string) => contentTypes[extname(name.replace(/\.gz$/, ''))] ?? 'application/octet-stream';

const securityHeaders: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  // blob: for attachments, which the client fetches with its token and shows from object URLs.
  [
    'content-security-policy',
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; media-src 'self' blob:; frame-ancestors 'none'",
  ],
];

interface StaticFile {
  body: Buffer;
  type: string;
}

/** dist/web beside the compiled gateway, or from the sources (tests run src/), the built one. */
export function webRoot(): string {
  const candidates = ['../../web/', '../../../dist/web/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

export function staticRoutes(app: TemplatedApp, logger: Logger, root = webRoot()): void {
  const files = loadFiles(root);
  if (!files.has('/index.html')) logger.warn('web client not built: GET / answers 503 until `npm run build`', { root });

  const serve = (res: HttpResponse, req: HttpRequest, path: string, cacheControl: string) => {
    const file = files.get(path);
    const gzipped = /\bgzip\b/.test(req.getHeader('accept-encoding')) ? files.get(`${path}.gz`) : undefined;
    res.cork(() => {
      if (!file) {
        const missingIndex = path === '/index.html';
        res
          .writeStatus(missingIndex ? '503 Service Unavailable' : '404 Not Found')
          .writeHeader('content-type', 'text/plain; charset=utf-8');
        res.end(missingIndex ? 'The web client is not built: run `npm run build`.\n' : 'Not found\n');
        return;
      }
      res.writeStatus('200 OK').writeHeader('content-type', file.type).writeHeader('cache-control', cacheControl);
      res.writeHeader('vary', 'accept-encoding');
      if (gzipped) res.writeHeader('content-encoding', 'gzip');
      for (const [name, value] of securityHeaders) res.writeHeader(name, value);
      res.end((gzipped ?? file).body);
    });
  };
  app.get('/', (res, req) => serve(res, req, '/index.html', 'no-cache'));
  app.get('/index.html', (res, req) => serve(res, req, '/index.html', 'no-cache'));
  app.get('/assets/*', (res, req) => serve(res, req, req.getUrl(), 'public, max-age=31536000, immutable'));
  // The service worker (scope /): revalidated, so a new build replaces it.
  app.get('/sw.js', (res, req) => serve(res, req, '/sw.js', 'no-cache'));
}

function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(root)) return files;
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full, `${prefix}/${name}`);
      else files.set(`${prefix}/${name}`, { body: readFileSync(full), type: typeOf(name) });
    }
  };
  walk(root, '');
  return files;
}
