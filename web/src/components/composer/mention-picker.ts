import { h, replace } from '../../dom.js';

// @mentions in the composer: typing "@" and the start of a name offers the group's members;
// arrows move, Enter or Tab picks, Escape closes. Picked names become the message's `mentions`.

export interface Member {
  id: string;
  name: string;
}

export class MentionPicker {
  readonly list = h('ul', { class: 'mention-list', id: 'mention-list', role: 'listbox', hidden: true, 'data-testid': 'mention-list' });
  /** Who was picked, by id: kept as mentions if their "@Name" is still in the text when sent. */
  private readonly picked = new Map<string, string>();
  private options: Member[] = [];
  private active = 0;

  constructor(
    private readonly input: HTMLTextAreaElement,
    /** The members that may be mentioned (not the user). */
    private readonly members: () => Member[],
  ) {}

  private query() {
    const { input } = this;
    return /(^|\s)@([^\s@]{0,32})$/u.exec(input.value.slice(0, input.selectionStart ?? input.value.length));
  }
  close(): void {
    this.list.hidden = true;
    this.input.removeAttribute('aria-activedescendant');
    this.options = [];
  }
  /** Offers the members whose name starts with what follows "@" (at most six). */
  draw(): void {
    const m = this.query();
    if (!m) {
      this.close();
      return;
    }
    const prefix = (m[2] ?? '').toLocaleLowerCase();
    this.options = this.members()
      .filter((o) => o.name.toLocaleLowerCase().startsWith(prefix))
      .slice(0, 6);
    if (this.options.length === 0) {
      this.close();
      return;
    }
    this.active = Math.min(this.active, this.options.length - 1);
    replace(
      this.list,
      this.options.map((o, i) =>
        h(
          'li',
          {
            id: `mention-${i}`,
            role: 'option',
            'aria-selected': String(i === this.active),
            dir: 'auto',
            onmousedown: (e: MouseEvent) => {
              e.preventDefault();
              this.pick(i);
            },
          },
          o.name,
        ),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute('aria-activedescendant', `mention-${this.active}`);
  }
  pick(i: number): void {
    const o = this.options[i];
    const m = this.query();
    if (!o || !m) return;
    const { input } = this;
    const caret = input.selectionStart ?? input.value.length;
    const start = caret - (m[2]?.length ?? 0) - 1;
    input.value = `${input.value.slice(0, start)}@${o.name} ${input.value.slice(caret)}`;
    const at = start + o.name.length + 2;
    input.setSelectionRange(at, at);
    this.picked.set(o.id, o.name);
    this.close();
    input.focus();
  }
  /** Handles a key while the list is open; true when it was the list's. */
  keydown(e: KeyboardEvent): boolean {
    if (this.list.hidden || !this.options.length) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : this.options.length - 1)) % this.options.length;
      this.draw();
    } else if (e.key === 'Enter' || e.key === 'Tab') this.pick(this.active);
    else if (e.key === 'Escape') this.close();
    else return false;
    e.preventDefault();
    return true;
  }
  /** The ids mentioned in the text to send; forgets the picks. */
  take(text: string): string[] {
    const ids = [...this.picked].filter(([, name]) => text.includes(`@${name}`)).map(([id]) => id);
    this.picked.clear();
    return ids;
  }
}
