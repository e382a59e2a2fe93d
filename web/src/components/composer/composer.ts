import type { SendInput } from '../../../../src/client/index.js';
import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import { type Member, MentionPicker } from './mention-picker.js';
import { recorder } from './recorder.js';
import { type Quote, ReplyBar } from './reply-bar.js';
import { type Upload, UploadTray } from './upload-tray.js';

// The composer: text, files (📎, 📷), voice notes, polls and events, a reply, @mentions. Enter
// sends, Shift+Enter breaks the line; the send waits for the uploads.

export interface ComposerOptions {
  /** Sends one message (rejects with the reason it was not sent). */
  send(text: string, options: Pick<SendInput, 'attachments' | 'mentions' | 'replyTo'>): Promise<unknown>;
  typing(): void;
  members(): Member[];
  upload: Upload;
  fail(message: string): void;
  /** A private reply's quote, carried here from an announcement. */
  quote?: Quote;
  /** The poll and event forms: their panel and their buttons. */
  create?: { panel: HTMLElement; buttons: HTMLElement[] };
}

export interface Composer {
  /** "Replying to …" a message. */
  startReply(replyTo: { seq: number; name: string; text: string }): void;
  /** Stops uploads and a recording in progress (the view closing). */
  dispose(): void;
}

/** Fills `form` with the composer. */
export function composer(form: HTMLFormElement, options: ComposerOptions): Composer {
  const { fail } = options;
  const input = h('textarea', {
    rows: 1,
    placeholder: t('conv.message'),
    'aria-label': t('conv.message'),
    'data-testid': 'composer',
    maxlength: 4096,
    dir: 'auto',
    'aria-autocomplete': 'list',
    'aria-controls': 'mention-list',
  });
  const replyBar = new ReplyBar(options.quote, () => input.focus());
  const mentions = new MentionPicker(input, options.members);
  const sendButton = h('button', { type: 'submit', class: 'primary' }, t('conv.send'));
  const tray = new UploadTray(options.upload, fail, () => (sendButton.disabled = tray.uploading()));
  const voice = recorder((file) => tray.stage(file), fail);
  const picker = (testid: string, accept: string, capture?: string) => {
    const chooser = h('input', { type: 'file', accept, capture, multiple: !capture, hidden: true, 'data-testid': testid });
    chooser.onchange = () => {
      fail('');
      for (const file of chooser.files ?? []) tray.stage(file);
      chooser.value = '';
    };
    return chooser;
  };
  const anyFile = picker('attach-input', 'image/*,audio/*,video/*,application/pdf,*/*');
  const camera = picker('camera-input', 'image/*', 'environment');
  const submit = () => {
    if (tray.uploading()) return;
    const typed = input.value.trim();
    if (!typed && tray.size === 0) return;
    const attachments = tray.take();
    const text = replyBar.quoted(typed);
    const replyTo = replyBar.replyTo?.seq;
    input.value = '';
    fail('');
    options
      .send(text, { attachments, mentions: mentions.take(text), ...(replyTo !== undefined ? { replyTo } : {}) })
      .catch((err: unknown) => fail(t('conv.notSent', { reason: describeError(err) })));
    replyBar.clear();
    input.focus();
  };
  input.addEventListener('input', () => {
    options.typing();
    mentions.draw();
  });
  input.addEventListener('keydown', (e) => {
    if (mentions.keydown(e)) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener('blur', () => setTimeout(() => mentions.close(), 150));
  form.onsubmit = (e) => {
    e.preventDefault();
    submit();
  };
  tray.refresh();
  const icon = (label: string, glyph: string, onclick: () => void) =>
    h('button', { type: 'button', class: 'icon', 'aria-label': label, title: label, onclick }, glyph);
  replace(
    form,
    replyBar.element,
    options.create?.panel,
    tray.element,
    mentions.list,
    h(
      'div',
      { class: 'compose-row' },
      icon(t('conv.attach'), '📎', () => anyFile.click()),
      icon(t('conv.photo'), '📷', () => camera.click()),
      voice?.button,
      ...(options.create?.buttons ?? []),
      input,
      sendButton,
    ),
    anyFile,
    camera,
  );
  if (options.quote) input.focus();
  return {
    startReply(replyTo) {
      replyBar.set(replyTo);
      input.focus();
    },
    dispose() {
      voice?.cancel();
      tray.abort();
    },
  };
}
