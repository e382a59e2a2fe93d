import type { adminEn } from './admin.en.js';

export const adminHi: Partial<Record<keyof typeof adminEn, string>> = {
  'admin.members': 'सदस्य',
};
