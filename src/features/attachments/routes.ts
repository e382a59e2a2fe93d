import { type Attachments, type Download, RangeNotSatisfiable } from './attachments.js';
import { storableString } from '../../protocol/limits.js';
import { idParam, parseQuery, type HttpReply, type HttpRouter } from '../../gateway/http.js';
import { z } from 'zod';

const uploadQuery = z.object({
  name: storableString()
    .trim()
    .min(1)
    .max(255)
    // A name is shown and offered as a file name, never a path.
    .transform((n) => n.replace(/[\\/\p{Cc}]/gu, '_')),
});

/**
 * Served bytes are never a page of this origin: no sniffing, a sandbox with nothing allowed
 * (script in an HTML or SVG file cannot run even if a browser opens it), and private caching only.
 */
const fileHeaders = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  'cache-control': 'private, max-age=3600',
  'cross-origin-resource-policy': 'same-site',
  'accept-ranges': 'bytes',
};

/** docs/protocol.md §8 "Files (attachments)": upload (streamed), download with Range, thumbnails. */
export function attachmentRoutes(router: HttpRouter, attachments: Attachments, maxUploadBytes: number) {
  router.streamed(
    '/v1/attachments',
    maxUploadBytes,
    { 201: 'attachment', query: uploadQuery },
    async ({ principal, query, body, contentType, contentLength }) => {
      const { name } = parseQuery(query, uploadQuery);
      const attachment = await attachments.upload(principal.userId, { name, contentType, contentLength, body });
      return { status: 201, body: { attachment } };
    },
  );

  const serve = (thumbnail: boolean) => async (input: { principal: { userId: string }; params: { id: string }; range: string }) => {
    try {
      return downloadReply(
        await attachments.download(input.principal.userId, idParam(input.params.id, 'attachment'), input.range, thumbnail),
      );
    } catch (err) {
      if (!(err instanceof RangeNotSatisfiable)) throw err;
      return { status: 416, headers: { ...fileHeaders, 'content-range': `bytes */${err.size}` }, text: '' };
    }
  };
  router.authed(
    'get',
    '/v1/attachments/:id',
    undefined,
    { 200: { contentType: 'application/octet-stream' }, 206: { contentType: 'application/octet-stream' } },
    serve(false),
  );
  router.authed(
    'get',
    '/v1/attachments/:id/thumbnail',
    undefined,
    { 200: { contentType: 'image/webp' }, 206: { contentType: 'image/webp' } },
    serve(true),
  );
}

function downloadReply(d: Download): HttpReply {
  const headers: Record<string, string> = {
    ...fileHeaders,
    'content-type': d.contentType,
    'content-disposition': `${d.inline ? 'inline' : 'attachment'}; ${dispositionName(d.name)}`,
  };
  if (d.range) headers['content-range'] = `bytes ${d.range.start}-${d.range.end}/${d.totalSize}`;
  return { status: d.range ? 206 : 200, headers, stream: { source: d.source, size: d.size } };
}

/** `filename="ascii"; filename*=UTF-8''…` (RFC 6266): every browser gets a safe name, modern ones the real one. */
export function dispositionName(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}
