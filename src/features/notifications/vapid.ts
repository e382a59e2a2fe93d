import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import webpush from 'web-push';
import { invalidSetting, type Config } from '../../platform/config.js';
import type { Db } from '../../platform/db/connect.js';
import { ensureServerKey } from './queries.js';
import type { Logger } from '../../platform/obs/logger.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/**
 * The VAPID key pair (RFC 8292): VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY when set; in embedded mode one
 * generated into DATA_DIR on first start; with PostgreSQL one generated into the database, so
 * every replica signs with the same key (clients subscribed with it).
 */
export async function resolveVapidKeys(config: Pick<Config, 'notifications' | 'storage'>, db: Db, logger: Logger): Promise<VapidKeys> {
  const { publicKey, privateKey, subject } = config.notifications.vapid;
  if (publicKey || privateKey) {
    if (!publicKey || !privateKey)
      throw invalidSetting(publicKey ? 'VAPID_PRIVATE_KEY' : 'VAPID_PUBLIC_KEY', 'set both VAPID keys or neither', '');
    try {
      webpush.setVapidDetails(subject, publicKey, privateKey);
    } catch (err) {
      throw invalidSetting('VAPID_PUBLIC_KEY', `not a VAPID key pair (${(err as Error).message})`, '');
    }
    return { publicKey, privateKey, subject };
  }
  if (config.storage.databaseUrl) {
    const stored = await ensureServerKey(db, 'vapid', { ...webpush.generateVAPIDKeys() });
    return { publicKey: stored.publicKey!, privateKey: stored.privateKey!, subject };
  }
  const file = join(config.storage.dataDir, 'vapid.json');
  try {
    const keys = JSON.parse(await readFile(file, 'utf8')) as { publicKey: string; privateKey: string };
    return { ...keys, subject };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(config.storage.dataDir, { recursive: true });
  const keys = webpush.generateVAPIDKeys();
  await writeFile(file, `${JSON.stringify(keys)}\n`, { mode: 0o600 });
  logger.info('generated a VAPID key pair for embedded mode', { file });
  return { ...keys, subject };
}
