import { rename, rm, stat } from 'node:fs/promises';
import { encode } from 'blurhash';
import sharp, { type Metadata } from 'sharp';
import { FairSlots } from './fair-slots.js';

// Image work with sharp (libvips, off the event loop on libuv's pool): what is served is
// re-encoded without metadata (EXIF, GPS, XMP, ICC comments), a ≤ 320 px WebP thumbnail, the
// dimensions and a blurhash placeholder. The cost of one image is bounded before any pixel is
// decoded (its header's dimensions against a per-format limit) and while it runs (a timeout);
// images run a few at a time, one per user, users served in turn (docs/protocol.md §8 Files).

const THUMB_PX = 320;
/** Images processed at once per process: each may hold a decoded image in memory and a libuv thread. */
const CONCURRENCY = 2;
/** A user's images waiting for their turn; more at once are `rate_limited` (a message carries ≤ 10 files). */
const WAITING_PER_USER = 16;

sharp.concurrency(1);
sharp.cache(false);

export interface ImageLimits {
  /** Pixels of an image, all frames of an animation together (IMAGE_MAX_PIXELS). */
  maxPixels: number;
  /** The same for AVIF, whose decoder costs many times more per pixel (IMAGE_MAX_PIXELS_AVIF). */
  maxPixelsAvif: number;
  /** Seconds one image's processing may take before it is given up (IMAGE_TIMEOUT_S). */
  timeoutS: number;
}

export interface ProcessedImage {
  width: number;
  height: number;
  blurhash: string;
  /** What the stored file now is: AVIF is re-encoded as JPEG (or PNG when it has transparency). */
  contentType: string;
  /** Size of the re-encoded file that replaced the upload. */
  size: number;
  thumbnailPath: string;
  thumbnailSize: number;
}

/** The bytes do not decode as the image they claim to be, or processing them failed. */
export class ImageError extends Error {}

/** The image is larger than its format's limit: refused from its header, nothing decoded. */
export class ImageTooLarge extends Error {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly frames: number,
    readonly maxPixels: number,
  ) {
    const frameNote = frames > 1 ? ` × ${frames} frames` : '';
    super(
      `the image is ${width} × ${height} px${frameNote} (${megapixels(width * height * frames)} megapixels); ` +
        `this type may have at most ${megapixels(maxPixels)} megapixels`,
    );
  }
}

/** Too many of this user's images are already waiting. */
export class ImagesBusy extends Error {}

const megapixels = (pixels: number) => String(Math.round(pixels / 100_000) / 10);

/** How libvips names each processed type's decoder (AVIF is read by the HEIF loader). */
const DECODER: Record<string, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'heif',
};

export class ImageProcessor {
  private readonly slots = new FairSlots(CONCURRENCY, WAITING_PER_USER);

  constructor(private readonly limits: ImageLimits) {}

  /** Images being processed and waiting, for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return this.slots.load;
  }

  /**
   * Rewrites the image at `path` in place (upright, no metadata; AVIF as JPEG or PNG) and writes
   * its thumbnail beside it. Throws ImageTooLarge over the type's pixel limit (read from the
   * header, before the queue), ImagesBusy when `owner` has too many waiting, and ImageError when
   * the bytes do not decode as `type` or take longer than the timeout.
   */
  async process(path: string, type: string, owner: string): Promise<ProcessedImage> {
    const animated = type === 'image/gif' || type === 'image/webp';
    const maxPixels = type === 'image/avif' ? this.limits.maxPixelsAvif : this.limits.maxPixels;
    await this.checkHeader(path, type, animated, maxPixels);
    if (!this.slots.admits(owner)) throw new ImagesBusy('too many of your images are waiting to be processed');
    return this.slots.run(owner, () => this.reencode(path, type, animated, maxPixels));
  }

  /** The header alone (no pixels decoded): the decoder libvips would use, and the dimensions. */
  private async checkHeader(path: string, type: string, animated: boolean, maxPixels: number): Promise<void> {
    let meta: Metadata;
    try {
      meta = await sharp(path, { animated, limitInputPixels: false }).metadata();
    } catch (err) {
      throw new ImageError(err instanceof Error ? err.message : String(err));
    }
    // The sniffer and libvips could disagree on a crafted file: the limit must be the decoder's.
    if (meta.format !== DECODER[type]) throw new ImageError(`the bytes do not decode as ${type}`);
    const width = meta.width ?? 0;
    const frameHeight = meta.pageHeight ?? meta.height ?? 0;
    const frames = animated ? (meta.pages ?? 1) : 1;
    if (width * frameHeight * frames > maxPixels) throw new ImageTooLarge(width, frameHeight, frames, maxPixels);
  }

  private async reencode(path: string, type: string, animated: boolean, maxPixels: number): Promise<ProcessedImage> {
    const { timeoutS } = this.limits;
    const clean = `${path}.clean`;
    const thumbnailPath = `${path}.thumb`;
    try {
      const input = sharp(path, { limitInputPixels: maxPixels, animated, failOn: 'error' }).timeout({ seconds: timeoutS });
      const output = await outputFormat(type, path);
      // sharp writes no metadata unless asked (withMetadata/keepExif): EXIF and GPS are dropped.
      // autoOrient applies the EXIF orientation first, so the picture stays upright without it.
      await input.autoOrient().toFormat(output.format).toFile(clean);
      // One frame's size (without `animated`, metadata describes the first page).
      const { width = 0, height = 0 } = await sharp(clean).metadata();
      // From the cleaned file, already upright: JPEG and WebP shrink while they load.
      await sharp(clean, { animated, failOn: 'error' })
        .timeout({ seconds: timeoutS })
        .resize(THUMB_PX, THUMB_PX, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toFile(thumbnailPath);
      const small = await sharp(thumbnailPath).resize(32, 32, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const blurhash = encode(new Uint8ClampedArray(small.data), small.info.width, small.info.height, 4, 3);
      await rename(clean, path);
      return {
        width,
        height,
        blurhash,
        contentType: output.contentType,
        size: (await stat(path)).size,
        thumbnailPath,
        thumbnailSize: (await stat(thumbnailPath)).size,
      };
    } catch (err) {
      await rm(clean, { force: true });
      await rm(thumbnailPath, { force: true });
      const message = err instanceof Error ? err.message : String(err);
      throw new ImageError(/timeout/i.test(message) ? `processing took over ${timeoutS} s` : message);
    }
  }
}

type Format = 'jpeg' | 'png' | 'webp' | 'gif';

/** The format an image is stored in: its own, except AVIF, whose encoder costs seconds per megapixel. */
async function outputFormat(type: string, path: string): Promise<{ format: Format; contentType: string }> {
  switch (type) {
    case 'image/png':
      return { format: 'png', contentType: type };
    case 'image/webp':
      return { format: 'webp', contentType: type };
    case 'image/gif':
      return { format: 'gif', contentType: type };
    case 'image/avif':
      return (await sharp(path).metadata()).hasAlpha
        ? { format: 'png', contentType: 'image/png' }
        : { format: 'jpeg', contentType: 'image/jpeg' };
    default:
      return { format: 'jpeg', contentType: 'image/jpeg' };
  }
}
