// The web client's one message catalogue: every interface string goes through t(), and every date
// and number through Intl. Catalogues are split by screen area (so two people can add strings
// without editing the same file) and merged here; English is complete, other languages fall back
// to it key by key.
import { en } from './en.js';
import { hi } from './hi.js';

export type MessageKey = keyof typeof en;
type Catalogue = Partial<Record<MessageKey, string>>;

const catalogues: Record<string, Catalogue> = { en, hi };
export const languages = [
  { code: 'en', name: 'English' },
  { code: 'hi', name: 'हिन्दी' },
] as const;

const STORAGE_KEY = 'banyan.lang';
let current = pickLanguage();

function pickLanguage(): string {
  const saved = typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
  if (saved && saved in catalogues) return saved;
  const wanted = typeof navigator === 'undefined' ? [] : (navigator.languages ?? [navigator.language]);
  for (const tag of wanted) {
    const base = tag.toLowerCase().split('-')[0] ?? '';
    if (base in catalogues) return base;
  }
  return 'en';
}

export const language = (): string => current;

/** Switches the language (kept for next time); the caller re-renders. */
export function setLanguage(code: string): void {
  if (!(code in catalogues)) return;
  current = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
}

/** A catalogue string with `{name}` placeholders filled in. */
export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const template = catalogues[current]?.[key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = vars[name];
    return value === undefined ? `{${name}}` : typeof value === 'number' ? formatNumber(value) : value;
  });
}

export const formatNumber = (n: number): string => new Intl.NumberFormat(current).format(n);
export const formatTime = (d: Date): string => new Intl.DateTimeFormat(current, { timeStyle: 'short' }).format(d);
export const formatDay = (d: Date): string => new Intl.DateTimeFormat(current, { dateStyle: 'medium' }).format(d);
export const formatDateTime = (d: Date): string => new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(d);

/** A day separator: "Today", "Yesterday", else the date (with the weekday within a week). */
export function dayLabel(d: Date, now = new Date()): string {
  const midnight = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((midnight(d) - midnight(now)) / 86_400_000);
  if (days === 0 || days === -1) {
    const text = new Intl.RelativeTimeFormat(current, { numeric: 'auto' }).format(days, 'day');
    return text.charAt(0).toLocaleUpperCase(current) + text.slice(1);
  }
  if (days > -7 && days < 0) return new Intl.DateTimeFormat(current, { weekday: 'long', day: 'numeric', month: 'long' }).format(d);
  return formatDay(d);
}

/** A list's time of a last message: the time today, else the short date. */
export const formatWhen = (d: Date, now = new Date()): string =>
  d.toDateString() === now.toDateString()
    ? formatTime(d)
    : new Intl.DateTimeFormat(current, {
        day: 'numeric',
        month: 'short',
        ...(d.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
      }).format(d);
