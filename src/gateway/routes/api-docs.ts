import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { openApiDocument } from '../api-docs/openapi.js';
import type { HttpRouter } from '../http.js';

// The API reference: `GET /v1/openapi.json`, built once from the routes this router registered,
// and `/docs/api`, Swagger UI (swagger-ui-dist from npm) over it, every file from this server.

/** Matches an `If-None-Match` list (weak or strong, or `*`) against our tag. */
const matches = (ifNoneMatch: string, etag: string) =>
  ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === etag;
  });

/** Serves the document; call after every other route is registered (it is built on first request). */
export function openApiRoute(router: HttpRouter): void {
  let built: { text: string; etag: string } | undefined;
  router.public('get', '/v1/openapi.json', undefined, { 200: { contentType: 'application/json' }, 304: null }, ({ ifNoneMatch }) => {
    if (!built) {
      const text = JSON.stringify(openApiDocument(router.routes));
      built = { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
    }
    // Public and credential-free: any origin's tools may load it; revalidated by its tag.
    const headers = { etag: built.etag, 'cache-control': 'public, max-age=60', 'access-control-allow-origin': '*' };
    if (matches(ifNoneMatch, built.etag)) return { status: 304, headers };
    return { status: 200, text: built.text, contentType: 'application/json', headers };
  });
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Banyan API reference</title>
<link rel="stylesheet" href="/docs/api/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/api/swagger-ui-bundle.js"></script>
<script src="/docs/api/init.js"></script>
</body>
</html>
`;

// A file, not inline: the page's CSP allows scripts from this origin only.
const init = `window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/**
 * The reference page's own policy, narrower than the web client's: scripts and styles from this
 * origin only (Swagger UI sets styles through the DOM, which style-src does not govern: no
 * 'unsafe-inline'; test/browser/api-docs.test.ts checks nothing is refused), its icons data: URLs,
 * and fetches to this origin (the document, and "Try it out").
 */
const docsCsp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface DocFile {
  body: Buffer;
  gzipped: Buffer;
  type: string;
}

const docFile = (body: Buffer | string, type: string): DocFile => {
  const bytes = Buffer.from(body);
  return { body: bytes, gzipped: gzipSync(bytes), type };
};

/** Swagger UI's files, read (and gzipped) on first request: most servers never serve them. */
function loadDocFiles(): Map<string, DocFile> {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const asset = (name: string, type: string) => docFile(readFileSync(join(dist, name)), type);
  return new Map([
    ['/docs/api', docFile(page, 'text/html; charset=utf-8')],
    ['/docs/api/', docFile(page, 'text/html; charset=utf-8')],
    ['/docs/api/init.js', docFile(init, 'text/javascript; charset=utf-8')],
    ['/docs/api/swagger-ui-bundle.js', asset('swagger-ui-bundle.js', 'text/javascript; charset=utf-8')],
    ['/docs/api/swagger-ui.css', asset('swagger-ui.css', 'text/css; charset=utf-8')],
  ]);
}

/** `/docs/api` and its files (uWS routes of their own: pages, not API answers). */
export function apiDocsPage(app: TemplatedApp): void {
  let files: Map<string, DocFile> | undefined;
  const serve = (res: HttpResponse, req: HttpRequest) => {
    files ??= loadDocFiles();
    const file = files.get(req.getUrl());
    const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
    res.cork(() => {
      if (!file) {
        res.writeStatus('404 Not Found').writeHeader('content-type', 'text/plain; charset=utf-8').end('Not found\n');
        return;
      }
      res.writeStatus('200 OK').writeHeader('content-type', file.type).writeHeader('cache-control', 'no-cache');
      res.writeHeader('vary', 'accept-encoding').writeHeader('x-content-type-options', 'nosniff');
      res.writeHeader('referrer-policy', 'no-referrer').writeHeader('content-security-policy', docsCsp);
      if (gzip) res.writeHeader('content-encoding', 'gzip');
      res.end(gzip ? file.gzipped : file.body);
    });
  };
  app.get('/docs/api', serve);
  app.get('/docs/api/*', serve);
}
