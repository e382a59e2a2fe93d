import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlobStore } from '../../src/features/attachments/open-blob-store.js';
import { runBlobStoreContract } from '../helpers/blob-store-contract.js';
import { startS3 } from '../helpers/s3.js';

runBlobStoreContract('file (DATA_DIR)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-files-'));
  return { store: await openBlobStore(undefined, dataDir), cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
});

runBlobStoreContract('s3 (S3-compatible server on 127.0.0.1)', async () => {
  const s3 = await startS3();
  return { store: await openBlobStore(s3.storageUrl(), '/nonexistent'), cleanup: () => s3.stop() };
});
