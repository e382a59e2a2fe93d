import { supportedMimeTypes } from 'file-type';

// What an upload is: the declared `content-type` checked against the type sniffed from its bytes
// (file-type), and how each stored type is served (inline or as a download).

const TOKEN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** Other names clients use for one type; the right side is what the sniffer says. */
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'audio/mp3': 'audio/mpeg',
  'audio/x-mp3': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/m4a': 'audio/mp4',
  'audio/x-m4a': 'audio/mp4',
  'audio/opus': 'audio/ogg',
  'audio/ogg; codecs=opus': 'audio/ogg',
  'application/x-pdf': 'application/pdf',
  'text/xml': 'application/xml',
};

const canonical = (type: string) => ALIASES[type] ?? type;
const SNIFFABLE = new Set([...supportedMimeTypes].map((t) => canonical(t)));

/** The media type of a `content-type` header, lower case, without parameters; undefined when malformed. */
export function parseContentType(header: string): string | undefined {
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return TOKEN.test(type) ? type : undefined;
}

/** Families whose bytes a browser renders: their type must be confirmed by the sniffer. */
const isMediaFamily = (type: string) => /^(image|audio|video)\//.test(type) || type === 'application/pdf';

/** One container, two families: a voice note recorded as audio/webm is sniffed as video/webm. */
const sameContainer = (a: string, b: string) => {
  const [fa, sa] = a.split('/');
  const [fb, sb] = b.split('/');
  return sa === sb && (fa === 'audio' || fa === 'video') && (fb === 'audio' || fb === 'video');
};

export type TypeVerdict = { ok: true; type: string } | { ok: false; reason: string };

/**
 * Settles an upload's stored type from what the client declared and what the bytes are.
 * `application/octet-stream` means "unknown": the sniffed type, if any, is kept. Otherwise they
 * must agree; bytes the sniffer does not recognise may only claim a type it cannot recognise
 * either (text, CSV, SVG…), and never an image, audio, video or PDF type, which are served inline.
 */
export function settleType(declared: string, sniffed: string | undefined): TypeVerdict {
  const want = canonical(declared);
  const got = sniffed === undefined ? undefined : canonical(sniffed);
  if (want === 'application/octet-stream') return { ok: true, type: got ?? want };
  if (got === undefined) {
    if (SNIFFABLE.has(want) || (isMediaFamily(want) && want !== 'image/svg+xml')) {
      return { ok: false, reason: `the bytes are not ${declared}` };
    }
    return { ok: true, type: want };
  }
  if (got === want || sameContainer(got, want)) return { ok: true, type: want };
  // XML documents (SVG among them) are sniffed as application/xml.
  if (got === 'application/xml' && (want.endsWith('+xml') || want === 'application/xml')) return { ok: true, type: want };
  return { ok: false, reason: `declared ${declared} but the bytes are ${sniffed}` };
}

/** Raster images this server decodes for a thumbnail and re-encodes without metadata. */
export const PROCESSED_IMAGES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

/**
 * Shown in the page (images, audio, video, PDF) or else only ever downloaded: SVG and HTML could
 * run script in a browser, so they are downloads like everything unknown.
 */
export function servedInline(type: string): boolean {
  // Images this server cannot re-encode (HEIC, TIFF…) keep their metadata: never shown inline.
  if (type.startsWith('image/')) return PROCESSED_IMAGES.has(type);
  return isMediaFamily(type);
}
