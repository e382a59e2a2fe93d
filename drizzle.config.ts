import { defineConfig } from 'drizzle-kit';

// drizzle-kit only diffs the schema into SQL files; it never connects.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/platform/db/schema.ts',
  out: './migrations',
  casing: 'snake_case',
});
