import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import {
  claimSweepable,
  deleteAttachments,
  findReadableAttachment,
  insertAttachmentWithinQuota,
  type NewAttachment,
  usedBytes,
} from './queries.js';
import type { Db } from '../../platform/db/connect.js';
import type { AttachmentRow } from '../../platform/db/schema.js';
import { newId } from '../../platform/ids.js';
import type { BlobStore, ByteRange } from './blob-store.js';
import { PROCESSED_IMAGES, parseContentType, servedInline, settleType } from './content-types.js';
import { ImageError, type ImageLimits, ImageProcessor, ImagesBusy, ImageTooLarge } from './images.js';
import { receiveToFile, TooLarge } from './receive.js';
import type { Logger } from '../../platform/obs/logger.js';
import { AppError, badRequest, notFound } from '../../protocol/errors.js';
import type { AttachmentMeta } from '../../protocol/frames.js';

export interface MediaDeps {
  db: Db;
  blobs: BlobStore;
  logger: Logger;
  /** Where uploads are staged while they arrive (under DATA_DIR). */
  stagingDir: string;
  maxUploadBytes: number;
  quotaBytes: number;
  /** Pixel limits and time limit of image processing (IMAGE_MAX_PIXELS, IMAGE_MAX_PIXELS_AVIF, IMAGE_TIMEOUT_S). */
  images: ImageLimits;
}

const blobKey = (id: string) => `a/${id}`;
const thumbKey = (id: string) => `a/${id}.thumb`;
/** Staging directories of processes that died are removed once this old. */
const STALE_STAGING_MS = 24 * 3600 * 1000;

/** The metadata messages carry for an attachment (docs/protocol.md §8 "Files (attachments)"). */
export function attachmentMeta(row: AttachmentRow): AttachmentMeta {
  return {
    id: row.id,
    name: row.name,
    contentType: row.contentType,
    size: row.size,
    ...(row.width !== null ? { width: row.width } : {}),
    ...(row.height !== null ? { height: row.height } : {}),
    ...(row.blurhash !== null ? { blurhash: row.blurhash } : {}),
  };
}

/** The bytes of an attachment (or its thumbnail) as they are served, with how to serve them. */
export interface Download {
  source: Readable;
  /** Bytes in `source`; `range` when a part was asked for. */
  size: number;
  totalSize: number;
  range: ByteRange | undefined;
  contentType: string;
  name: string;
  inline: boolean;
}

/** Uploads (docs/protocol.md §8 "Files (attachments)"): staged, checked, images cleaned, stored, served, swept. */
export class Attachments {
  /** One directory per process, so replicas sharing DATA_DIR never remove each other's uploads in flight. */
  private readonly staging: string;
  private ready: Promise<void> | undefined;
  /** Images are processed a few at a time, one per user, users in turn. */
  readonly images: ImageProcessor;
  /** The clock downloads check messages' expiry against (tests move it). */
  now: () => number = Date.now;

  constructor(private readonly deps: MediaDeps) {
    this.staging = join(deps.stagingDir, `${process.pid}-${randomBytes(4).toString('hex')}`);
    this.images = new ImageProcessor(deps.images);
  }

  private prepare(): Promise<void> {
    this.ready ??= this.makeStaging();
    return this.ready;
  }

  private async makeStaging(): Promise<void> {
    await mkdir(this.staging, { recursive: true });
    // Left by processes that died mid-upload.
    for (const entry of await readdir(this.deps.stagingDir)) {
      const path = join(this.deps.stagingDir, entry);
      const info = await stat(path).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await rm(path, { recursive: true, force: true });
    }
  }

  /**
   * Takes one upload from `body`: at most maxUploadBytes (declared length checked first), within
   * the user's quota, not empty, of a type its bytes confirm. Images are re-encoded without
   * metadata and get a thumbnail. Nothing is kept when anything fails.
   */
  async upload(
    userId: string,
    input: { name: string; contentType: string; contentLength: number | undefined; body: Readable },
  ): Promise<AttachmentMeta> {
    const { maxUploadBytes, quotaBytes } = this.deps;
    const declared = parseContentType(input.contentType || 'application/octet-stream');
    if (!declared) throw badRequest('content-type is not a media type');
    if (input.contentLength === 0) throw badRequest('the file is empty');
    if (input.contentLength !== undefined && (await usedBytes(this.deps.db, userId)) + input.contentLength > quotaBytes) {
      throw quotaExceeded(quotaBytes);
    }
    await this.prepare();
    let received: Awaited<ReturnType<typeof receiveToFile>>;
    try {
      received = await receiveToFile(input.body, this.staging, maxUploadBytes);
    } catch (err) {
      if (err instanceof TooLarge) throw new AppError('too_large', `upload over ${maxUploadBytes} bytes`);
      throw err;
    }
    const temp = [received.path, `${received.path}.thumb`];
    try {
      if (received.size === 0) throw badRequest('the file is empty');
      if (input.contentLength !== undefined && received.size !== input.contentLength) throw badRequest('body shorter than content-length');
      const sniffed = (await fileTypeFromBuffer(received.head))?.mime;
      const verdict = settleType(declared, sniffed);
      if (!verdict.ok) throw badRequest(verdict.reason, { declared, ...(sniffed ? { sniffed } : {}) });
      const id = newId('a');
      const row: NewAttachment = {
        id,
        uploaderId: userId,
        name: input.name,
        contentType: verdict.type,
        size: received.size,
        sha256: received.sha256,
        width: null,
        height: null,
        blurhash: null,
        thumbnailSize: null,
      };
      if (PROCESSED_IMAGES.has(verdict.type)) {
        const image = await this.processImage(userId, received.path, verdict.type);
        // What is served is the cleaned file: its size, type and hash are the stored ones.
        Object.assign(row, {
          contentType: image.contentType,
          name: renamedFor(input.name, verdict.type, image.contentType),
          size: image.size,
          sha256: await sha256Of(received.path),
          width: image.width,
          height: image.height,
          blurhash: image.blurhash,
          thumbnailSize: image.thumbnailSize,
        });
        await this.deps.blobs.putFile(thumbKey(id), image.thumbnailPath, image.thumbnailSize, 'image/webp');
      }
      await this.deps.blobs.putFile(blobKey(id), received.path, row.size, row.contentType);
      const stored = await this.deps.db.transaction((tx) => insertAttachmentWithinQuota(tx, row, quotaBytes));
      if (!stored) {
        await this.removeBlobs(id, row.thumbnailSize !== null);
        throw quotaExceeded(quotaBytes);
      }
      return attachmentMeta({ ...row, createdAt: new Date(), sweepAfter: null, deleting: false });
    } finally {
      await Promise.all(temp.map((p) => rm(p, { force: true })));
    }
  }

  private async processImage(userId: string, path: string, type: string) {
    try {
      return await this.images.process(path, type, userId);
    } catch (err) {
      if (err instanceof ImageTooLarge) {
        const { width, height, frames, maxPixels } = err;
        throw badRequest(err.message, { reason: 'pixels', width, height, ...(frames > 1 ? { frames } : {}), maxPixels });
      }
      if (err instanceof ImagesBusy) throw new AppError('rate_limited', err.message, { retryAfterMs: 1000 });
      if (err instanceof ImageError) throw badRequest(`the image could not be read: ${err.message.slice(0, 200)}`);
      throw err;
    }
  }

  /**
   * The attachment's bytes (or the asked range) for a reader allowed to see it; not_found for
   * anyone else, and once every message that carried it has expired (as for deleted ones).
   */
  async download(userId: string, id: string, rangeHeader: string, thumbnail: boolean): Promise<Download> {
    const row = await findReadableAttachment(this.deps.db, id, userId, new Date(this.now()));
    if (!row || (thumbnail && row.thumbnailSize === null)) throw notFound('attachment');
    const totalSize = thumbnail ? row.thumbnailSize! : row.size;
    const range = parseRange(rangeHeader, totalSize);
    const source = await this.deps.blobs.get(thumbnail ? thumbKey(id) : blobKey(id), range);
    if (!source) throw notFound('attachment');
    return {
      source,
      size: range ? range.end - range.start + 1 : totalSize,
      totalSize,
      range,
      contentType: thumbnail ? 'image/webp' : row.contentType,
      name: row.name,
      inline: thumbnail || servedInline(row.contentType),
    };
  }

  /**
   * Deletes the files of attachments due (unattached for 24 h, or whose messages are all gone),
   * a batch at a time; any number of replicas may run it at once without doing the same work.
   * Returns how many were removed.
   */
  async sweep(batch = 100): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await claimSweepable(this.deps.db, batch);
      if (due.length === 0) return removed;
      const gone: string[] = [];
      for (const a of due) {
        try {
          await this.removeBlobs(a.id, a.thumbnailSize !== null);
          gone.push(a.id);
        } catch (err) {
          // Claimed, not removed: another sweep retries it once the claim lapses.
          this.deps.logger.warn('could not remove an attachment; retried later', { id: a.id, err });
        }
      }
      await deleteAttachments(this.deps.db, gone);
      removed += gone.length;
      if (due.length < batch) return removed;
    }
  }

  private async removeBlobs(id: string, hasThumbnail: boolean): Promise<void> {
    await this.deps.blobs.delete(blobKey(id));
    if (hasThumbnail) await this.deps.blobs.delete(thumbKey(id));
  }
}

const quotaExceeded = (quotaBytes: number) =>
  new AppError('too_large', 'upload quota reached: delete messages with files to make room', { reason: 'quota', quotaBytes });

/** A file re-encoded in another format gets that format's extension (`walk.avif` → `walk.jpg`). */
function renamedFor(name: string, from: string, to: string): string {
  if (from === to) return name;
  const extension = to === 'image/png' ? '.png' : '.jpg';
  return /\.avif$/i.test(name) ? name.replace(/\.avif$/i, extension) : name;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`; undefined for no header, a
 * malformed one or several ranges (the whole file is then served, as RFC 9110 allows). A range
 * that starts past the end throws RangeNotSatisfiable.
 */
export function parseRange(header: string, size: number): ByteRange | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw new RangeNotSatisfiable(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size) throw new RangeNotSatisfiable(size);
  if (end < start) return undefined;
  return { start, end };
}

export class RangeNotSatisfiable extends Error {
  constructor(readonly size: number) {
    super('range not satisfiable');
  }
}
