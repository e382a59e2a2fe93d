import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/**
 * A fresh PostgreSQL database of the test's own next to DATABASE_URL's. Notification workers
 * claim whatever the database owes: tests that count pushes keep other test files' servers
 * (sharing DATABASE_URL) from sending theirs with other settings.
 */
export async function ownDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set');
  const name = `banyan_${label}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(base, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await sql.end();
    },
  };
}
