import type { TimelineItem } from '../../../src/client/index.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n/index.js';
import { snippet } from './message-row.js';

// The pinned messages above the conversation, newest pin first; one tap opens each where it is
// (docs/protocol.md §8 "Pins and disappearing messages").

export class PinBar {
  readonly element = h('nav', { class: 'pins', 'aria-label': t('conv.pinned'), 'data-testid': 'pins', hidden: true });
  private drawn = '';

  constructor(
    private readonly groupId: string,
    private readonly item: (seq: number) => TimelineItem | undefined,
    /** Scrolls to a loaded row; false when it is not loaded (the link then opens it). */
    private readonly scrollTo: (seq: number) => boolean,
  ) {}

  /** Draws the pins when they (or a pinned message's text) changed; returns the seqs pinned or unpinned meanwhile. */
  draw(seqs: number[]): number[] {
    const key = seqs.map((seq) => `${seq}:${this.item(seq)?.text ?? ''}`).join();
    if (key === this.drawn) return [];
    const before = this.drawn ? this.drawn.split(',').map((k) => Number(k.split(':')[0])) : [];
    this.drawn = key;
    this.element.hidden = seqs.length === 0;
    replace(
      this.element,
      seqs.map((seq) => {
        const target = this.item(seq);
        return h(
          'a',
          {
            href: `#/g/${encodeURIComponent(this.groupId)}/${seq}`,
            class: 'pin',
            dir: 'auto',
            'data-testid': 'pin',
            onclick: (e: MouseEvent) => {
              if (this.scrollTo(seq)) e.preventDefault();
            },
          },
          '📌 ',
          target ? snippet(target.text, 60) : t('conv.pinnedMessage'),
        );
      }),
    );
    return [...new Set([...before, ...seqs])].filter((seq) => Number.isFinite(seq));
  }
}
