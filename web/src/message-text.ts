import { h } from './dom.js';

// A message's text as DOM nodes, never as HTML: http(s) links become links that open apart from
// the app (no referrer, no opener), @names of the mentioned people are highlighted, and lines
// that start with "> " (a quoted announcement) show as a quote.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Closing punctuation after a link belongs to the sentence, not to the link. */
const TRAILING = /[.,;:!?)\]}'"»”’]+$/;

/** An http(s) URL as a safe link, or undefined for anything else. */
export function safeUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function inline(text: string, mentionNames: string[]): Node[] {
  const nodes: Node[] = [];
  const names = mentionNames.filter(Boolean).sort((a, b) => b.length - a.length);
  const mention = names.length ? new RegExp(`@(?:${names.map(escapeRegExp).join('|')})`, 'gu') : undefined;
  const pushText = (part: string) => {
    if (!mention || !part) return part && nodes.push(document.createTextNode(part));
    let last = 0;
    for (const m of part.matchAll(mention)) {
      if (m.index > last) nodes.push(document.createTextNode(part.slice(last, m.index)));
      nodes.push(h('span', { class: 'mention', dir: 'auto' }, m[0]));
      last = m.index + m[0].length;
    }
    if (last < part.length) nodes.push(document.createTextNode(part.slice(last)));
  };
  let last = 0;
  for (const m of text.matchAll(URL_PATTERN)) {
    const raw = m[0].replace(TRAILING, '');
    const href = safeUrl(raw);
    if (!href) continue;
    pushText(text.slice(last, m.index));
    nodes.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer', dir: 'auto' }, raw));
    last = m.index + raw.length;
  }
  pushText(text.slice(last));
  return nodes;
}

/** The text's nodes; `mentionNames` are the display names of the people it mentions. */
export function messageText(text: string, mentionNames: string[] = []): Node[] {
  const lines = text.split('\n');
  const quoted: string[] = [];
  while (lines.length && lines[0]!.startsWith('> ')) quoted.push(lines.shift()!.slice(2));
  const rest = lines.join('\n');
  return [
    ...(quoted.length ? [h('blockquote', { class: 'quote', dir: 'auto' }, ...inline(quoted.join('\n'), []))] : []),
    ...inline(rest, mentionNames),
  ];
}
