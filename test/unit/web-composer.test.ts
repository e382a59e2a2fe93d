// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { composer } from '../../web/src/components/composer/composer.js';
import type { Attachment } from '../../web/src/files.js';

// The composer as a component (web/src/components/composer), in happy-dom: @mentions from the
// keyboard, a reply, and files that must finish uploading before the message goes.

interface Sent {
  text: string;
  options: { attachments?: string[]; mentions?: string[]; replyTo?: number };
}

function setup() {
  const form = document.createElement('form');
  document.body.replaceChildren(form);
  const sent: Sent[] = [];
  const failures: string[] = [];
  /** Uploads answered by the test, in order. */
  const uploads: { file: File; finish: (a: Attachment) => void }[] = [];
  const view = composer(form, {
    send: async (text, options) => sent.push({ text, options }),
    typing: () => undefined,
    members: () => [
      { id: 'u-asha', name: 'Asha Devi' },
      { id: 'u-anil', name: 'Anil' },
      { id: 'u-ben', name: 'Ben Kumar' },
    ],
    upload: (file) => new Promise((finish) => uploads.push({ file, finish })),
    fail: (message) => failures.push(message),
  });
  const input = form.querySelector('textarea') as HTMLTextAreaElement;
  const type = (text: string) => {
    input.value = text;
    input.setSelectionRange(text.length, text.length);
    input.dispatchEvent(new Event('input'));
  };
  const key = (k: string) => input.dispatchEvent(new KeyboardEvent('keydown', { key: k, cancelable: true }));
  return { form, view, input, type, key, sent, failures, uploads };
}

describe('web components: the composer', () => {
  it('offers members after "@", picks one with the arrows and Enter, and sends them as mentions', () => {
    const { form, type, key, input, sent } = setup();
    type('Thanks @a');
    const list = form.querySelector('[data-testid="mention-list"]') as HTMLElement;
    expect(list.hidden).toBe(false);
    expect([...list.querySelectorAll('li')].map((li) => li.textContent)).toEqual(['Asha Devi', 'Anil']);
    key('ArrowDown');
    expect(list.querySelector('[aria-selected="true"]')?.textContent).toBe('Anil');
    key('Enter');
    expect(input.value).toBe('Thanks @Anil ');
    expect(list.hidden).toBe(true);
    input.value += 'see you';
    key('Enter');
    expect(sent).toEqual([{ text: 'Thanks @Anil see you', options: { attachments: [], mentions: ['u-anil'] } }]);
    expect(input.value).toBe('');
  });

  it('replies to a message, and × cancels the reply', () => {
    const { form, view, input, key, sent } = setup();
    view.startReply({ seq: 7, name: 'Asha Devi', text: 'Seeds on Friday' });
    const bar = form.querySelector('[data-testid="reply-bar"]') as HTMLElement;
    expect(bar.hidden).toBe(false);
    expect(bar.textContent).toContain('Seeds on Friday');
    input.value = 'I can help';
    key('Enter');
    expect(sent[0]).toEqual({ text: 'I can help', options: { attachments: [], mentions: [], replyTo: 7 } });
    expect(bar.hidden).toBe(true);
    view.startReply({ seq: 8, name: 'Ben Kumar', text: 'x' });
    bar.querySelector('button')?.click();
    input.value = 'plain';
    key('Enter');
    expect(sent[1]?.options.replyTo).toBeUndefined();
  });

  it('waits for the files to upload before sending them with the message', async () => {
    const { form, input, key, sent, uploads } = setup();
    const chooser = form.querySelector('[data-testid="attach-input"]') as HTMLInputElement;
    const file = new File(['hello'], 'notes.txt', { type: 'text/plain' });
    Object.defineProperty(chooser, 'files', { value: [file], configurable: true });
    chooser.dispatchEvent(new Event('change'));
    const send = form.querySelector('button[type="submit"]') as HTMLButtonElement;
    expect(form.querySelectorAll('[data-testid="staged-file"]')).toHaveLength(1);
    expect(send.disabled).toBe(true);
    input.value = 'the notes';
    key('Enter');
    expect(sent).toEqual([]); // still uploading
    uploads[0]?.finish({ id: 'att-1', name: 'notes.txt', contentType: 'text/plain', size: 5 });
    await expect.poll(() => send.disabled).toBe(false);
    expect(form.querySelector('[data-testid="uploaded"]')).not.toBeNull();
    key('Enter');
    expect(sent).toEqual([{ text: 'the notes', options: { attachments: ['att-1'], mentions: [] } }]);
    expect(form.querySelectorAll('[data-testid="staged-file"]')).toHaveLength(0);
  });
});
