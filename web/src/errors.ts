import { BanyanError } from '../../src/client/errors.js';
import { t } from './i18n/index.js';

/** A message a person can act on, from whatever failed. */
export function describeError(err: unknown): string {
  if (err instanceof BanyanError) {
    const issues = (err.details?.issues as { path: string; message: string }[] | undefined) ?? [];
    if (issues.length > 0) return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    switch (err.code) {
      case 'unavailable':
        return t('error.unavailable');
      case 'rate_limited':
        return t('error.rateLimited');
      case 'internal':
        return t('error.internal');
      default:
        return capitalize(err.message);
    }
  }
  return err instanceof Error ? err.message : String(err);
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
