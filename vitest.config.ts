import { defineConfig } from 'vitest/config';

// Four tiers, each runnable alone (`npm run test:unit` and so on); `vitest run` (`npm test`, CI) runs them all.
//   unit:    pure code, no database, no server, no build (seconds);
//   db:      SQL against PGlite, and PostgreSQL too when DATABASE_URL is set;
//   server:  real servers over HTTP and WebSocket (builds dist/ first);
//   browser: the web client in chromium against a real server.
const serverSetup = ['test/helpers/global-setup.ts', 'test/helpers/pglite-template.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores: integration files each start real servers, so run two files at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        // Pure code: files share a worker's modules (no fresh import of the server per file), in threads.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false },
      },
      {
        extends: true,
        test: { name: 'db', include: ['test/db/**/*.test.ts'], globalSetup: ['test/helpers/pglite-template.ts'] },
      },
      { extends: true, test: { name: 'server', include: ['test/integration/**/*.test.ts'], globalSetup: serverSetup } },
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'], globalSetup: serverSetup } },
    ],
  },
});
