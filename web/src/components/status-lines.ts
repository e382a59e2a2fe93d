import { formatWhen, t } from '../i18n/index.js';

// The conversation's one-line statuses as text: who is online, who is typing, who has seen the
// user's last message. Each element is drawn by setting its text to these.

type NameOf = (id: string) => string;

/**
 * Who is online (docs/protocol.md §8 "Profiles and presence"): in a direct group the other
 * person, online or last seen; in a small group how many and who.
 */
export function presenceText(
  kind: 'group' | 'announcement' | 'direct' | undefined,
  presence: ReadonlyMap<string, { online: boolean; lastSeen: string | null }>,
  me: string,
  nameOf: NameOf,
): string {
  const others = [...presence].filter(([id]) => id !== me);
  if (!kind || others.length === 0) return '';
  if (kind === 'direct') {
    const [, p] = others[0]!;
    return p.online ? t('conv.online') : p.lastSeen ? t('conv.lastSeen', { when: formatWhen(new Date(p.lastSeen)) }) : '';
  }
  const online = others.filter(([, p]) => p.online).map(([id]) => nameOf(id));
  return online.length === 0 ? '' : t('conv.onlineNow', { count: online.length, names: online.slice(0, 3).join(', ') });
}

export function typingText(typers: Iterable<string>, nameOf: NameOf): string {
  const who = [...typers].map(nameOf);
  return who.length === 0
    ? ''
    : who.length === 1
      ? t('conv.typing.one', { name: who[0]! })
      : t('conv.typing.many', { names: who.join(', ') });
}

/** "Seen by n of m", or nothing. */
export const receiptText = (receipt: { count: number; of: number } | null): string =>
  receipt ? t('conv.seenBy', { count: receipt.count, of: receipt.of }) : '';
