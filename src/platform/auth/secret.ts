import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidSetting, type Config } from '../config.js';
import type { Logger } from '../obs/logger.js';

/**
 * The HS256 secret: JWT_SECRET when set; in embedded mode (no DATABASE_URL) one generated into
 * DATA_DIR on first start, so `npm start` needs no setup; otherwise required, unless tokens come
 * only from an external identity service (JWT_PUBLIC_KEY with LOCAL_ACCOUNTS off).
 */
export async function resolveJwtSecret(config: Pick<Config, 'auth' | 'storage'>, logger: Logger): Promise<string | undefined> {
  const { auth, storage } = config;
  if (auth.secret) return auth.secret;
  if (storage.databaseUrl) {
    if (auth.publicKey && !auth.localAccounts) return undefined;
    throw invalidSetting('JWT_SECRET', 'required when DATABASE_URL is set (at least 32 characters)', '');
  }
  const file = join(storage.dataDir, 'jwt-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(storage.dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  logger.info('generated a JWT secret for embedded mode', { file });
  return secret;
}
