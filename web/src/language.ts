import { h } from './dom.js';
import { language, languages, setLanguage, t } from './i18n/index.js';

/** The language switch: English or Hindi (following the browser until one is picked). */
export function languageSwitch(onChange: () => void): HTMLElement {
  const select = h(
    'select',
    {
      class: 'small',
      'aria-label': t('common.language'),
      'data-testid': 'language',
      onchange: () => {
        setLanguage(select.value);
        onChange();
      },
    },
    languages.map((l) => h('option', { value: l.code, lang: l.code, selected: l.code === language() }, l.name)),
  );
  return select;
}
