import type { memberEn } from './member.en.js';

export const memberHi: Partial<Record<keyof typeof memberEn, string>> = {
  'app.name': 'बरगद',
  'common.loading': 'लोड हो रहा है…',
};
