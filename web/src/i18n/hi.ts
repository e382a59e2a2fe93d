// Hindi strings; a key missing here falls back to English.
import { adminHi } from './admin.hi.js';
import { memberHi } from './member.hi.js';
import type { en } from './en.js';

export const hi: Partial<Record<keyof typeof en, string>> = { ...memberHi, ...adminHi };
