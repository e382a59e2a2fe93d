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

/**
 * A form's submit handler: the error line cleared and the button disabled while `run` works; a
 * failure is shown there and the button works again (on success the view moves on).
 */
export const submitting =
  (error: HTMLElement, submit: HTMLButtonElement, run: () => Promise<void>) =>
  async (e: SubmitEvent): Promise<void> => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await run();
    } catch (err) {
      error.textContent = describeError(err);
      submit.disabled = false;
    }
  };
