import { rename, rm, stat } from 'node:fs/promises';
import { encode } from 'blurhash';
import sharp from 'sharp';

// Image work with sharp (libvips, off the event loop on libuv's pool): what is served is
// re-encoded without metadata (EXIF, GPS, XMP, ICC comments), a ≤ 320 px WebP thumbnail, the
// dimensions and a blurhash placeholder.

/** Decoding a 40-megapixel image already takes ~160 MB; larger ones are refused (decompression bombs). */
const MAX_PIXELS = 40_000_000;
const THUMB_PX = 320;
/** Images processed at once per process: each may hold a decoded image in memory. */
const CONCURRENCY = 2;

sharp.concurrency(1);
sharp.cache(false);

let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export interface ProcessedImage {
  width: number;
  height: number;
  blurhash: string;
  /** Size of the re-encoded file that replaced the upload. */
  size: number;
  thumbnailPath: string;
  thumbnailSize: number;
}

export class ImageError extends Error {}

/**
 * Rewrites the image at `path` in place (same format, upright, no metadata) and writes its
 * thumbnail beside it. Throws ImageError when the bytes do not decode as an image.
 */
export function processImage(path: string, type: string): Promise<ProcessedImage> {
  return slot(async () => {
    const animated = type === 'image/gif' || type === 'image/webp';
    const input = () => sharp(path, { limitInputPixels: MAX_PIXELS, animated, failOn: 'error' });
    const clean = `${path}.clean`;
    const thumbnailPath = `${path}.thumb`;
    try {
      // sharp writes no metadata unless asked (withMetadata/keepExif): EXIF and GPS are dropped.
      // autoOrient applies the EXIF orientation first, so the picture stays upright without it.
      await input().autoOrient().toFormat(formatOf(type)).toFile(clean);
      // One frame's size (without `animated`, metadata describes the first page).
      const { width = 0, height = 0 } = await sharp(clean).metadata();
      await input()
        .autoOrient()
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
        size: (await stat(path)).size,
        thumbnailPath,
        thumbnailSize: (await stat(thumbnailPath)).size,
      };
    } catch (err) {
      await rm(clean, { force: true });
      await rm(thumbnailPath, { force: true });
      throw new ImageError(err instanceof Error ? err.message : String(err));
    }
  });
}

function formatOf(type: string): 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' {
  switch (type) {
    case 'image/png':
      return 'png';
    case 'image/webp':
      return 'webp';
    case 'image/gif':
      return 'gif';
    case 'image/avif':
      return 'avif';
    default:
      return 'jpeg';
  }
}
