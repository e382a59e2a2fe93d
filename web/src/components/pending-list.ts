import type { PendingMessage } from '../../../src/client/index.js';
import { h } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import { messageText } from '../message-text.js';

// The user's sends on their way, under the messages: sending, waiting for the connection, or
// failed (with the reason and Dismiss).

export function pendingRows(pending: PendingMessage[], ready: boolean, dismiss: (clientMsgId: string) => void): HTMLElement[] {
  return pending.map((p) =>
    h(
      'div',
      { class: `message mine pending ${p.status}`, 'data-testid': 'pending' },
      h(
        'div',
        { class: 'meta' },
        p.status === 'failed' ? `${t('conv.notSent', { reason: describeError(p.error) })} ` : ready ? t('conv.sending') : t('conv.waiting'),
        p.status === 'failed'
          ? h('button', { type: 'button', class: 'link', onclick: () => dismiss(p.clientMsgId) }, t('conv.dismiss'))
          : null,
      ),
      h('div', { class: 'text', dir: 'auto' }, messageText(p.text)),
      p.attachments?.length ? h('div', { class: 'meta' }, t('conv.files', { count: p.attachments.length })) : null,
    ),
  );
}
