import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores: integration files each start real servers, so run two files at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
    // `vitest run` runs both; `--project unit` skips the build the server tests need.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], globalSetup: ['test/helpers/pglite-template.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts', 'test/helpers/pglite-template.ts'],
        },
      },
    ],
  },
});
