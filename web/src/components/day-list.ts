import { h } from '../dom.js';
import { dayLabel } from '../i18n/index.js';

// The keyed message list: one row per seq, inside one section per day (with its separator). A
// changed entry replaces its one row; nothing else in the list is touched.

const dayKey = (ts: string) => {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

export class DayList {
  readonly element = h('div', { class: 'days' });
  private readonly rows = new Map<number, HTMLElement>();
  private readonly dayBoxes = new Map<string, HTMLElement>();

  /** The row drawn for a seq, if it is loaded. */
  row(seq: number): HTMLElement | undefined {
    return this.rows.get(seq);
  }
  /** Puts a row in place, or replaces the row drawn for its seq. */
  put(seq: number, ts: string, row: HTMLElement): void {
    const old = this.rows.get(seq);
    this.rows.set(seq, row);
    if (old) {
      old.replaceWith(row);
      return;
    }
    const box = this.dayBox(ts);
    const last = box.lastElementChild as HTMLElement | null;
    if (!last || Number(last.dataset.seq ?? 0) < seq) {
      box.append(row);
      return;
    }
    const after = [...box.querySelectorAll<HTMLElement>(':scope > [data-seq]')].find((el) => Number(el.dataset.seq) > seq);
    box.insertBefore(row, after ?? null);
  }
  clear(): void {
    this.element.replaceChildren();
    this.rows.clear();
    this.dayBoxes.clear();
  }

  private dayBox(ts: string): HTMLElement {
    const key = dayKey(ts);
    let box = this.dayBoxes.get(key);
    if (box) return box;
    const label = dayLabel(new Date(ts));
    box = h('section', { class: 'day', 'data-day': key, 'aria-label': label }, h('h2', { class: 'day-sep' }, label));
    const next = [...this.dayBoxes.entries()].filter(([k]) => k > key).sort(([a], [b]) => (a < b ? -1 : 1))[0]?.[1];
    this.element.insertBefore(box, next ?? null);
    this.dayBoxes.set(key, box);
    return box;
  }
}
