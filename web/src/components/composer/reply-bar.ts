import { h, replace } from '../../dom.js';
import { t } from '../../i18n/index.js';

// "Replying to …" above the composer: a message of this conversation, or an announcement quoted
// into a direct conversation to answer its sender privately. × cancels.

export interface Quote {
  from: string;
  text: string;
}

/** A quote of an announcement to reply to privately, carried to the direct conversation. */
export const privateQuote = {
  key: (group: string) => `banyan.quote.${group}`,
  take(group: string): Quote | undefined {
    const raw = sessionStorage.getItem(this.key(group));
    sessionStorage.removeItem(this.key(group));
    return raw ? (JSON.parse(raw) as Quote) : undefined;
  },
  put(group: string, quote: Quote) {
    sessionStorage.setItem(this.key(group), JSON.stringify(quote));
  },
};

export class ReplyBar {
  readonly element = h('div', { class: 'reply-bar', 'data-testid': 'reply-bar', hidden: true });
  /** The message replied to, with how it reads in the bar. */
  replyTo: { seq: number; name: string; text: string } | null = null;
  quote: Quote | undefined;

  constructor(
    quote: Quote | undefined,
    private readonly cancelled: () => void,
  ) {
    this.quote = quote;
    this.draw();
  }
  set(replyTo: { seq: number; name: string; text: string }): void {
    this.replyTo = replyTo;
    this.quote = undefined;
    this.draw();
  }
  clear(): void {
    this.replyTo = null;
    this.quote = undefined;
    this.draw();
  }
  /** The text to send, with the private quote (if any) before it. */
  quoted(text: string): string {
    const q = this.quote;
    return q ? `> ${q.from ? `${q.from}: ` : ''}${q.text.replace(/\n/g, ' ')}\n${text}` : text;
  }
  private draw() {
    const label = this.quote
      ? t('conv.replyingPrivately', { from: this.quote.from, text: this.quote.text })
      : this.replyTo
        ? t('conv.replyingTo', { name: this.replyTo.name, text: this.replyTo.text })
        : '';
    this.element.hidden = !label;
    replace(
      this.element,
      h('span', { dir: 'auto' }, label),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-label': t('conv.reply.cancel'),
          onclick: () => {
            this.clear();
            this.cancelled();
          },
        },
        '×',
      ),
    );
  }
}
