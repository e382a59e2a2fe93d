import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncApiDocument } from '../gateway/api-docs/asyncapi.js';
import { openApiDocument } from '../gateway/api-docs/openapi.js';
import { startApp } from './app.js';
import { loadConfig } from './config.js';

/** Where `npm run docs:api` writes the API references, relative to the repository. */
export const apiDocFiles = { openapi: 'docs/openapi.json', asyncapi: 'docs/asyncapi.json' } as const;

/** A document as committed: two-space JSON and a final newline. */
export const apiDocText = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;

/**
 * Both API references of a server with the default settings: it is started (embedded storage, in
 * `dataDir` or a directory of its own, on a free port) so the HTTP document lists the routes it
 * really registered, then stopped.
 */
export async function apiDocuments(dataDir?: string): Promise<Record<keyof typeof apiDocFiles, unknown>> {
  const ownDir = dataDir === undefined;
  dataDir ??= mkdtempSync(join(tmpdir(), 'banyan-api-docs-'));
  try {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'error',
    });
    const app = await startApp(config);
    try {
      return { openapi: openApiDocument(app.gateway.routes), asyncapi: asyncApiDocument(config.protocol) };
    } finally {
      await app.stop();
    }
  } finally {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
