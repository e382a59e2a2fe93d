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
