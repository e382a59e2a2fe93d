import { decode } from 'blurhash';
import type { HistoryMessageFrame } from '../../src/client/index.js';
import { BanyanError } from '../../src/client/errors.js';
import { h } from './dom.js';
import { describeError } from './errors.js';
import { t } from './i18n/index.js';
import type { Ctx } from './main.js';

// Files in the web client (docs/protocol.md §8 "Files (attachments)"): uploads with progress, and attachments shown from
// blob URLs, since every download needs the bearer token (an <img src> cannot carry it).

export type Attachment = NonNullable<HistoryMessageFrame['attachments']>[number];

export const formatSize = (bytes: number) =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(0)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * Uploads one file, reporting progress (0–1). XMLHttpRequest rather than the SDK's fetch: fetch
 * has no upload progress in the browsers this client targets.
 */
export function uploadFile(ctx: Ctx, file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<Attachment> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    // An upload stopped half way leaves nothing on the server (it discards a partial body).
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.onabort = () => reject(new BanyanError('aborted', 'upload cancelled'));
    xhr.open('POST', `/v1/attachments?name=${encodeURIComponent(file.name || 'file')}`);
    xhr.setRequestHeader('authorization', `Bearer ${ctx.session.token}`);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body: { attachment?: Attachment; error?: { code?: string; message?: string; details?: Record<string, unknown> } } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // an answer that is not JSON (a proxy's error page): described by its status below
      }
      if (xhr.status === 201 && body.attachment) return resolve(body.attachment);
      const e = body.error ?? {};
      const code = e.code ?? (xhr.status === 413 ? 'too_large' : 'internal');
      reject(new BanyanError(code, e.message ?? `upload failed (${xhr.status})`, e.details, xhr.status));
    };
    // A 413 cut-off closes the connection mid-body: browsers then report a network error.
    xhr.onerror = () => reject(new BanyanError('unavailable', 'upload failed'));
    xhr.send(file);
  });
}

/** Why an upload failed, in words a person can act on. */
export function describeUploadError(err: unknown, file: File): string {
  if (err instanceof BanyanError) {
    if (err.code === 'too_large' && err.details?.reason === 'quota') return t('files.quota', { name: file.name });
    if (err.code === 'too_large') {
      const limit = /over (\d+) bytes/.exec(err.message)?.[1]; // the server's MAX_UPLOAD_BYTES
      return limit
        ? t('files.tooLargeLimit', { name: file.name, size: formatSize(file.size), limit: formatSize(Number(limit)) })
        : t('files.tooLarge', { name: file.name, size: formatSize(file.size) });
    }
    if (err.code === 'bad_request' && err.details?.declared !== undefined)
      return t('files.mismatch', { name: file.name, type: String(err.details.declared) });
    if (err.code === 'bad_request' && file.size === 0) return t('files.empty', { name: file.name });
    if (err.code === 'bad_request') return t('files.refused', { name: file.name, reason: describeError(err) });
  }
  return t('files.failed', { name: file.name, reason: describeError(err) });
}

/** A blurhash drawn on a tiny canvas, stretched by CSS: the image's colours while it loads. */
function placeholder(hash: string | undefined): HTMLCanvasElement | null {
  if (!hash) return null;
  try {
    const canvas = h('canvas', { width: 32, height: 32, class: 'blur', 'aria-hidden': 'true' });
    const image = canvas.getContext('2d')?.createImageData(32, 32);
    if (!image) return null;
    image.data.set(decode(hash, 32, 32));
    canvas.getContext('2d')?.putImageData(image, 0, 0);
    return canvas;
  } catch {
    return null; // a malformed hash: no placeholder, the thumbnail still comes
  }
}

/**
 * The attachments of one conversation, each element made once and reused across redraws (so
 * nothing is fetched twice). Blob URLs are revoked when their attachment is no longer drawn
 * (`keepOnly`, after each redraw) and when the conversation closes (`dispose`).
 */
export class AttachmentViews {
  private readonly views = new Map<string, HTMLElement>();
  /** The blob URLs made for each attachment id. */
  private readonly urls = new Map<string, string[]>();
  private overlay: HTMLElement | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly fail: (message: string) => void,
  ) {}

  render(list: Attachment[]): HTMLElement | null {
    if (list.length === 0) return null;
    return h(
      'div',
      { class: 'attachments' },
      list.map((a) => {
        let view = this.views.get(a.id);
        if (!view) {
          view = this.make(a);
          this.views.set(a.id, view);
        }
        return view;
      }),
    );
  }

  /** Forgets the attachments not in `ids` (deleted messages): their URLs are revoked. */
  keepOnly(ids: Set<string>): void {
    for (const id of [...this.views.keys()]) if (!ids.has(id)) this.forget(id);
  }

  dispose(): void {
    for (const id of [...this.views.keys()]) this.forget(id);
    this.overlay?.remove();
  }

  private forget(id: string): void {
    for (const url of this.urls.get(id) ?? []) URL.revokeObjectURL(url);
    this.urls.delete(id);
    this.views.delete(id);
  }

  private async blobUrl(id: string, thumbnail = false): Promise<string> {
    const res = await this.ctx.http.download(id, { thumbnail });
    const url = URL.createObjectURL(await res.blob());
    // Fetched for a view already forgotten (the message went meanwhile): revoked at once.
    if (!this.views.has(id)) URL.revokeObjectURL(url);
    else this.urls.set(id, [...(this.urls.get(id) ?? []), url]);
    return url;
  }

  private make(a: Attachment): HTMLElement {
    const type = a.contentType;
    if (a.blurhash && a.width && a.height && /^image\//.test(type)) return this.image(a);
    if (/^audio\//.test(type)) return this.player(a, 'audio');
    if (/^video\//.test(type)) return this.player(a, 'video');
    return this.download(a);
  }

  /** A thumbnail over its blurhash; a tap shows the whole image. */
  private image(a: Attachment): HTMLElement {
    const img = h('img', { alt: a.name, 'data-testid': 'attachment-thumbnail' });
    const box = h(
      'button',
      {
        type: 'button',
        class: 'attachment image',
        title: `${a.name} (${formatSize(a.size)})`,
        onclick: () => void this.open(a),
      },
      placeholder(a.blurhash),
      img,
    );
    // Sized before anything loads, so the conversation does not jump (tall ones cropped at 320 px).
    // Through the CSSOM: the page's CSP refuses inline style attributes.
    box.style.height = `${Math.round(Math.min(320, (240 * (a.height ?? 1)) / (a.width ?? 1)))}px`;
    img.onload = () => box.classList.add('loaded');
    this.blobUrl(a.id, true).then(
      (url) => (img.src = url),
      (err: unknown) => this.fail(describeError(err)),
    );
    return box;
  }

  private async open(a: Attachment): Promise<void> {
    this.overlay?.remove();
    const img = h('img', { alt: a.name, class: 'full', 'data-testid': 'attachment-full' });
    const close = h('button', { type: 'button', class: 'close', 'aria-label': t('common.close') }, '×');
    const overlay = h('div', { class: 'lightbox', role: 'dialog', 'aria-label': a.name }, close, img, h('p', {}, a.name));
    overlay.onclick = () => overlay.remove();
    overlay.onkeydown = (e) => e.key === 'Escape' && overlay.remove();
    this.overlay = overlay;
    document.body.append(overlay);
    close.focus();
    try {
      img.src = await this.blobUrl(a.id);
    } catch (err) {
      overlay.remove();
      this.fail(describeError(err));
    }
  }

  /** Voice notes load at once (they are small); videos only when asked, to spare mobile data. */
  private player(a: Attachment, kind: 'audio' | 'video'): HTMLElement {
    const box = h('div', { class: `attachment ${kind}`, 'data-testid': `attachment-${kind}` });
    const load = async (autoplay: boolean) => {
      try {
        const media = h(kind, { controls: true, preload: 'metadata', src: await this.blobUrl(a.id), title: a.name });
        box.replaceChildren(media);
        if (autoplay) void media.play().catch(() => undefined);
      } catch (err) {
        this.fail(describeError(err));
      }
    };
    if (kind === 'audio' && a.size <= 2 * 1024 * 1024) void load(false);
    else
      box.append(
        h(
          'button',
          { type: 'button', class: 'small', onclick: () => void load(true) },
          `▶ ${kind === 'audio' ? '🎙️' : '🎬'} ${a.name} · ${formatSize(a.size)}`,
        ),
      );
    return box;
  }

  /** Documents and anything else: a link that fetches the file and saves it under its name. */
  private download(a: Attachment): HTMLElement {
    return h(
      'a',
      {
        href: '#',
        class: 'attachment file',
        'data-testid': 'attachment-file',
        onclick: async (e: MouseEvent) => {
          e.preventDefault();
          try {
            const save = h('a', { href: await this.blobUrl(a.id), download: a.name });
            save.click();
          } catch (err) {
            this.fail(describeError(err));
          }
        },
      },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, a.contentType === 'application/pdf' ? '📄' : '📎'),
      h('span', { class: 'name' }, a.name),
      h('span', { class: 'size' }, formatSize(a.size)),
    );
  }
}

/** Whether this browser can record a voice note (microphone and MediaRecorder). */
export const canRecord = () => typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;

/**
 * Records a voice note from the microphone; `stop` gives the file, typed by its container
 * (audio/webm in Chrome and Firefox, audio/mp4 in Safari), which the server accepts as audio.
 */
export async function startRecording(): Promise<{ stop(): Promise<File>; cancel(): void }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks: Blob[] = [];
  const release = () => {
    for (const track of stream.getTracks()) track.stop();
  };
  recorder.ondataavailable = (e) => {
    if (e.data.size > 0) chunks.push(e.data);
  };
  recorder.start();
  return {
    stop: () =>
      new Promise((resolve) => {
        recorder.onstop = () => {
          release();
          const type = (recorder.mimeType || 'audio/webm').split(';')[0]!.replace(/^video\//, 'audio/');
          const extension = type.endsWith('mp4') ? 'm4a' : type.endsWith('ogg') ? 'ogg' : 'webm';
          const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
          resolve(new File(chunks, `voice-note-${stamp}.${extension}`, { type }));
        };
        recorder.stop();
      }),
    cancel: () => {
      recorder.onstop = release;
      if (recorder.state !== 'inactive') recorder.stop();
      else release();
    },
  };
}
