// English strings, the complete catalogue. Keys are grouped by screen area; add to the area's file.
import { adminEn } from './admin.en.js';
import { memberEn } from './member.en.js';

export const en = { ...memberEn, ...adminEn };
