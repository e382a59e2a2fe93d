import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ChatDeps } from '../../platform/deps.js';
import { nowOf } from '../../platform/deps.js';
import type { Job } from '../../platform/jobs/job.js';
import { JobTrigger } from '../../platform/jobs/job.js';
import { newId } from '../../platform/ids.js';
import { AppError, notFound } from '../../protocol/errors.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { writeArchive } from './archive.js';
import {
  claimDueArchives,
  claimPendingExports,
  type ExportRow,
  findExport,
  insertExport,
  markExpired,
  markExportReady,
  recentExports,
  takeDownload,
} from './queries.js';

/** The blob store key of an export's archive. */
export const archiveKey = (id: string) => `x/${id}.zip`;
/** An attachment's key (features/attachments: `a/<id>`). */
const attachmentKey = (id: string) => `a/${id}`;

/** How long a replica owns an export it is making before another may take it over (it died). */
const EXPORT_LEASE_MS = 10 * 60_000;
/** How often an idle export job looks for exports asked for through another replica, and for archives due. */
const EXPORT_POLL_MS = 5_000;

/** What exports need of the blob store attachments use (features/attachments' BlobStore). */
export interface ArchiveStore {
  putFile(key: string, path: string, size: number, contentType: string): Promise<void>;
  get(key: string): Promise<Readable | undefined>;
  delete(key: string): Promise<void>;
}

export interface ExportDeps {
  blobs: ArchiveStore;
  /** A directory under DATA_DIR where archives are made before they go to the blob store. */
  stagingDir: string;
}

const view = (row: ExportRow): HttpReply<'dataExport'>['export'] => ({
  id: row.id,
  status: row.status,
  createdAt: row.createdAt.toISOString(),
  expiresAt: row.expiresAt?.toISOString() ?? null,
  size: row.size === null ? null : Number(row.size),
});

/** A download: the archive's bytes, once. */
export interface ExportDownload {
  source: Readable;
  size: number;
  name: string;
  /** Call when the bytes went out (or failed): the archive is deleted then. */
  done: () => void;
}

/**
 * A member's export of their own data (docs/protocol.md §2 "Your data: export and erasure"):
 * asked for, made by a job on one replica (a row lease), stored in the blob store, downloaded
 * once, deleted at expiry.
 */
export class Exports {
  private readonly token = randomBytes(8).toString('hex');
  private readonly trigger = new JobTrigger();

  constructor(
    private readonly deps: ChatDeps,
    private readonly media: ExportDeps,
  ) {}

  /** Asks for an export: at most one pending per member, and EXPORT_RATE of them. */
  async request(userId: string): Promise<HttpReply<'dataExport'>> {
    const { points, durationS } = this.deps.config.myData.exportRate;
    const now = nowOf(this.deps);
    const recent = await recentExports(this.deps.db, userId, new Date(now - durationS * 1000));
    if (recent.count >= points) {
      const retryAfterMs = Math.max(1000, (recent.oldest?.getTime() ?? now) + durationS * 1000 - now);
      throw new AppError('rate_limited', 'an export was asked for recently: wait retryAfterMs', { retryAfterMs });
    }
    const row = await insertExport(this.deps.db, newId('x'), userId);
    if (!row) throw new AppError('rate_limited', 'an export is being made: wait for it', { retryAfterMs: EXPORT_POLL_MS });
    this.trigger.kick();
    return { export: view(row) };
  }

  /** Another member's export answers as an unknown one does. */
  async status(userId: string, id: string): Promise<HttpReply<'dataExport'>> {
    const row = await findExport(this.deps.db, id, userId);
    if (!row) throw notFound('export');
    return { export: view(this.expiredView(row)) };
  }

  /** Past its expiry an export is `expired`, whether or not the job has deleted it yet. */
  private expiredView(row: ExportRow): ExportRow {
    if (row.status !== 'expired' && row.expiresAt && row.expiresAt.getTime() <= nowOf(this.deps)) return { ...row, status: 'expired' };
    return row;
  }

  /** The archive, once: a second download (or one past expiry) is `410 gone`. */
  async download(userId: string, id: string): Promise<ExportDownload> {
    const row = await findExport(this.deps.db, id, userId);
    if (!row) throw notFound('export');
    if (row.status === 'pending') throw new AppError('conflict', 'the export is not ready yet');
    if (!(await takeDownload(this.deps.db, id, userId))) throw new AppError('gone', 'this export was downloaded already or has expired');
    const source = await this.media.blobs.get(archiveKey(id));
    if (!source) throw new AppError('gone', 'this export is gone');
    return {
      source,
      size: Number(row.size),
      name: `banyan-data-${row.createdAt.toISOString().slice(0, 10)}.zip`,
      done: () => {
        // Downloaded once: the bytes go now (the expiry job deletes them anyway if this fails).
        this.media.blobs
          .delete(archiveKey(id))
          .catch((err: unknown) => this.deps.logger.warn('export not deleted after download', { id, err }));
      },
    };
  }

  /** Makes pending exports (one at a time) and deletes archives past their expiry. */
  job(): Job {
    return {
      name: 'mydata.exports',
      kind: 'queued',
      everyMs: EXPORT_POLL_MS,
      trigger: this.trigger,
      run: async () => {
        await this.expireDue();
        const made = await this.makePending(1);
        return made > 0 ? { inMs: 0 } : undefined;
      },
    };
  }

  /** Makes up to `limit` pending exports; returns how many were claimed. */
  async makePending(limit: number): Promise<number> {
    const claimed = await claimPendingExports(this.deps.db, this.token, EXPORT_LEASE_MS, limit);
    for (const { id, userId } of claimed) {
      try {
        await this.make(id, userId);
      } catch (err) {
        // Left pending: another run (here or on another replica) tries again when the lease runs out.
        this.deps.logger.warn('export not made; retried later', { id, err });
      }
    }
    return claimed.length;
  }

  private async make(id: string, userId: string): Promise<void> {
    const dir = join(this.media.stagingDir, `export-${id}`);
    await mkdir(dir, { recursive: true });
    try {
      const paths = { json: join(dir, 'data.json'), html: join(dir, 'index.html'), zip: join(dir, 'archive.zip') };
      const size = await writeArchive({
        db: this.deps.db,
        userId,
        paths,
        openFile: (attachment) => this.media.blobs.get(attachmentKey(attachment)),
        now: new Date(nowOf(this.deps)),
      });
      await this.media.blobs.putFile(archiveKey(id), paths.zip, size, 'application/zip');
      if (!(await markExportReady(this.deps.db, id, this.token, size, this.deps.config.myData.exportTtlS))) {
        // Taken over by another replica (this one was too slow): its archive is the one kept.
        this.deps.logger.warn('export lease lost while making it', { id });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Deletes archives past their expiry; returns how many. */
  async expireDue(): Promise<number> {
    const due = await claimDueArchives(this.deps.db, this.token, 60_000, 100);
    const gone: string[] = [];
    for (const id of due) {
      try {
        await this.media.blobs.delete(archiveKey(id));
        gone.push(id);
      } catch (err) {
        this.deps.logger.warn('expired export not deleted; retried later', { id, err });
      }
    }
    await markExpired(this.deps.db, gone);
    return gone.length;
  }

  /** Erasure: every export of the member, archive and row. */
  async deleteAllOf(ids: string[]): Promise<void> {
    for (const id of ids) await this.media.blobs.delete(archiveKey(id));
  }
}
