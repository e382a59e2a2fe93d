import { h } from '../dom.js';

// The two fields of a phone sign-in or verification (docs/protocol.md §2 "Phone numbers and
// one-time codes"), with the hints that bring up the phone's number pad and its SMS code autofill.

export const phoneNumberInput = (value = '') =>
  h('input', { name: 'phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true, value, placeholder: '+91 98765 43210' });

export const oneTimeCodeInput = () =>
  h('input', { name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '6', required: true });
