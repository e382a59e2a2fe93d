import { h } from '../../dom.js';
import { type Attachment, describeUploadError, formatSize } from '../../files.js';
import { t } from '../../i18n/index.js';

// Files picked for the next message: uploaded at once, each with a progress bar and ×.

export type Upload = (file: File, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<Attachment>;

interface Staged {
  file: File;
  id?: string;
  row: HTMLElement;
  upload: AbortController;
}

export class UploadTray {
  readonly element = h('ul', { class: 'staged', 'data-testid': 'staged' });
  private readonly staged: Staged[] = [];

  constructor(
    private readonly upload: Upload,
    private readonly fail: (message: string) => void,
    /** Called when uploads start or finish (the send button waits for them). */
    private readonly changed: () => void,
  ) {}

  /** Some file is still on its way. */
  uploading(): boolean {
    return this.staged.some((s) => !s.id);
  }
  get size(): number {
    return this.staged.length;
  }
  stage(file: File): void {
    if (this.staged.length >= 10) {
      this.fail(t('conv.tooManyFiles'));
      return;
    }
    const bar = h('progress', { max: 1, value: 0, 'aria-label': t('conv.uploading', { name: file.name }) });
    const row = h(
      'li',
      { class: 'staged-file', 'data-testid': 'staged-file' },
      h('span', { class: 'name', dir: 'auto' }, `${file.name} · ${formatSize(file.size)}`),
      bar,
    );
    const entry: Staged = { file, row, upload: new AbortController() };
    row.append(
      h(
        'button',
        { type: 'button', class: 'link', 'aria-label': t('conv.removeFile', { name: file.name }), onclick: () => this.unstage(entry) },
        '×',
      ),
    );
    this.staged.push(entry);
    this.element.append(row);
    this.refresh();
    this.upload(file, (f) => (bar.value = f), entry.upload.signal).then(
      (attachment) => {
        entry.id = attachment.id;
        bar.replaceWith(h('span', { class: 'done', 'data-testid': 'uploaded' }, '✓'));
        this.refresh();
      },
      (err: unknown) => {
        if (entry.upload.signal.aborted) return; // removed by the user, or the conversation closed
        this.unstage(entry);
        this.fail(describeUploadError(err, file));
      },
    );
  }
  /** The uploaded files' ids, for the message; the tray empties. */
  take(): string[] {
    const ids = this.staged.flatMap((s) => (s.id ? [s.id] : []));
    for (const s of this.staged.splice(0)) s.row.remove();
    this.refresh();
    return ids;
  }
  /** Stops the uploads in progress (the view closing). */
  abort(): void {
    for (const entry of this.staged) entry.upload.abort();
  }
  refresh(): void {
    this.element.hidden = this.staged.length === 0;
    this.changed();
  }
  private unstage(entry: Staged) {
    entry.upload.abort(); // nothing once uploaded; else the bytes stop going out
    if (this.staged.includes(entry)) this.staged.splice(this.staged.indexOf(entry), 1);
    entry.row.remove();
    this.refresh();
  }
}
